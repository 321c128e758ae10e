"""Mutual TLS: the files a process proves itself with, and gRPC credentials made from them.

Every gRPC port requires a client certificate from the CA (`ICC_TLS_CA`); each process
presents its own (`ICC_TLS_CERT`, `ICC_TLS_KEY`). Unset, they are the local system's files
that `icc run` makes under `$ICC_VAR_DIR/pki/` (`ca.crt`, `<name>.crt`, `<name>.key`).

A server reads its files again when they change (checked at each new connection), so a
deployment rotates a server's certificate or the CA bundle without a restart. Each process
exports when the certificates it presents and the CAs it trusts expire
(`icc_tls_certificate_expiry_seconds`, Unix time), read from the files at each scrape, so
an alert warns before a forgotten renewal stops the port.
"""

import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import grpc
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from icc_pki.identity import expiries

CA_VARIABLE, CERT_VARIABLE, KEY_VARIABLE = "ICC_TLS_CA", "ICC_TLS_CERT", "ICC_TLS_KEY"


@dataclass(frozen=True)
class TlsConfig:
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] = os.environ) -> "TlsConfig":
        """`ICC_TLS_*`, else the local system's files for `name` (`incidents`, `gateway`)."""
        pki = Path(env.get("ICC_VAR_DIR", "var")) / "pki"
        return cls(
            ca=Path(env.get(CA_VARIABLE) or pki / "ca.crt"),
            cert=Path(env.get(CERT_VARIABLE) or pki / f"{name}.crt"),
            key=Path(env.get(KEY_VARIABLE) or pki / f"{name}.key"),
        )

    def _read(self) -> tuple[bytes, bytes, bytes]:
        try:
            return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()
        except OSError as exc:
            raise OSError(
                f"cannot read TLS file {exc.filename}: run `icc run` once (it makes the local "
                f"certificates under var/pki/) or set {CA_VARIABLE}, {CERT_VARIABLE} and "
                f"{KEY_VARIABLE}"
            ) from None

    def _stamp(self) -> tuple[float, ...]:
        try:
            return tuple(p.stat().st_mtime for p in (self.ca, self.cert, self.key))
        except OSError:
            return ()

    def server_credentials(self) -> grpc.ServerCredentials:
        """Require a client certificate from the CA; serve this process's certificate."""
        ca, cert, key = self._read()
        watch_expiry(self)
        seen = [self._stamp()]

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            stamp = self._stamp()
            if not stamp or stamp == seen[0]:
                return None  # unchanged (or half-written): keep what is in use
            try:
                new_ca, new_cert, new_key = self._read()
            except OSError:
                return None
            seen[0] = stamp
            return grpc.ssl_server_certificate_configuration([(new_key, new_cert)], new_ca)

        return grpc.dynamic_ssl_server_credentials(
            grpc.ssl_server_certificate_configuration([(key, cert)], ca),
            fetch,  # type: ignore[arg-type]  # None keeps the configuration in use
            require_client_authentication=True,
        )

    def https_context(self) -> ssl.SSLContext:
        """An HTTPS client's: present this process's certificate, trust servers the CA
        issued (the trace sink's query endpoint)."""
        ca, _, _ = self._read()  # each file there, or says which is not and what to do
        context = ssl.create_default_context(cadata=ca.decode("ascii"))
        context.load_cert_chain(self.cert, self.key)
        return context

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Present this process's certificate; trust servers the CA issued."""
        ca, cert, key = self._read()
        watch_expiry(self)
        return grpc.ssl_channel_credentials(ca, key, cert)


# The files this process presents (as a server or a client), by certificate path.
_WATCHED: dict[Path, TlsConfig] = {}


def watch_expiry(tls: TlsConfig) -> None:
    """Export when `tls`'s certificate and CAs expire (`icc_tls_certificate_expiry_seconds`)."""
    _WATCHED[tls.cert] = tls


def _expiries(path: Path) -> list[tuple[str, datetime]]:
    try:
        return expiries(path.read_bytes())
    except (OSError, ValueError):
        return []  # unreadable now (being replaced): its series pauses for a scrape


def _observe_expiry(_: CallbackOptions) -> Iterable[Observation]:
    for tls in list(_WATCHED.values()):
        # A CA bundle holds two CAs during a rotation: each has its own series.
        for role, path in (("own", tls.cert), ("ca", tls.ca)):
            for subject, end in _expiries(path):
                yield Observation(end.timestamp(), {"certificate": role, "subject": subject})


metrics.get_meter("icc_rpc").create_observable_gauge(
    "icc.tls.certificate.expiry",
    callbacks=[_observe_expiry],
    unit="s",
    description="When a certificate this process presents (own) or trusts (ca) expires, Unix time",
)
