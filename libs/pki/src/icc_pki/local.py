"""The local system's certificates: a CA and one certificate per process and per example
partner, made under `var/pki/` on first start (`icc run`) and listed in the `tls`
section of `var/endpoints.json`.

Files: `ca.crt` (share it), `ca.key` (keep it: it issues), `<name>.crt` and `<name>.key`
for each identity. A certificate that has expired or expires within `RENEW_DAYS` is issued
again at the next start; so is every certificate when the CA changes.
"""

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from icc_kernel.principals import Kind
from icc_kernel.vocabulary import Agency
from icc_pki.authority import DEFAULT_DAYS, SERVING, Authority
from icc_pki.identity import Identity

RENEW_DAYS = 7
# A MEDICAL ambulance of the synthetic fleet and a hospital of the reference data.
EXAMPLE_UNIT = "U-CC115-CENTER-A1"
EXAMPLE_HOSPITAL = "HOSP-CHORAY"

# name in endpoints.json -> identity; the servers' certificates (the services', and the
# gateway's for its partner listener) also name their hosts.
SERVICES = ("incidents", "resources", "dispatch", "ops")
LOCAL: dict[str, Identity] = {
    **{name: Identity.of(Kind.SERVICE, name, exercises=True) for name in SERVICES},
    "gateway": Identity.of(Kind.GATEWAY, "gateway", exercises=True),
    # The trace sink's query endpoint (HTTPS): a server certificate, named for its hosts.
    "tracesink": Identity.of(Kind.SERVICE, "tracesink"),
    # Plays call-takers, dispatchers, units and hospitals in drills (local systems only).
    "simulator": Identity.of(Kind.SERVICE, "simulator", exercises=True),
    "command-center": Identity.of(
        Kind.PARTNER, "command-center", Agency.COMMAND_CENTER, "supervisor", exercises=True
    ),
    "police-113": Identity.of(Kind.PARTNER, "police-113", Agency.POLICE, "dispatcher"),
    "fire-114": Identity.of(Kind.PARTNER, "fire-114", Agency.FIRE, "dispatcher"),
    "medical-115": Identity.of(Kind.PARTNER, "medical-115", Agency.MEDICAL, "dispatcher"),
    "police-viewer": Identity.of(Kind.PARTNER, "police-viewer", Agency.POLICE, "viewer"),
    "hospital-choray": Identity.of(Kind.HOSPITAL, EXAMPLE_HOSPITAL, Agency.MEDICAL),
    "device-ambulance": Identity.of(Kind.DEVICE, EXAMPLE_UNIT, Agency.MEDICAL),
    "oncall": Identity.of(Kind.ENGINEER, "oncall", exercises=True),
}


@dataclass(frozen=True)
class IdentityFiles:
    identity: Identity
    cert: Path
    key: Path

    def as_json(self) -> dict[str, Any]:
        i = self.identity
        return {
            "cert": str(self.cert),
            "key": str(self.key),
            "kind": i.kind.value,
            "agency": i.agency.name,
            "role": i.role,
            "exercises": i.exercises,
            "spiffe_id": i.spiffe_id,
        }


def _fresh(path: Path, ca: x509.Certificate, hosts: Sequence[str] = ()) -> bool:
    """Issued by `ca`, valid for more than `RENEW_DAYS`, naming each of `hosts`."""
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return left > dt.timedelta(days=RENEW_DAYS) and set(hosts) <= _names(cert)


def _names(cert: x509.Certificate) -> set[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    addresses = sans.get_values_for_type(x509.IPAddress)
    return {*sans.get_values_for_type(x509.DNSName), *(str(a) for a in addresses)}


def _write(path: Path, data: bytes, secret: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    if secret:
        os.chmod(tmp, 0o600)
    tmp.replace(path)


class LocalPki:
    """A folder holding a CA and the certificates it issued."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    def files(self, name: str, identity: Identity) -> IdentityFiles:
        return IdentityFiles(identity, self.folder / f"{name}.crt", self.folder / f"{name}.key")

    def authority(self) -> Authority:
        """The folder's CA, made when there is none."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        if self.ca_cert.exists() and self.ca_key.exists():
            return Authority.from_pem(self.ca_cert.read_bytes(), self.ca_key.read_bytes())
        ca = Authority.create()
        _write(self.ca_key, ca.key_pem, secret=True)
        _write(self.ca_cert, ca.cert_pem, secret=False)
        return ca

    def issue(
        self,
        name: str,
        identity: Identity,
        *,
        days: float = DEFAULT_DAYS,
        hosts: Sequence[str] = (),
        ca: Authority | None = None,
    ) -> IdentityFiles:
        """A new certificate for `identity` as `<name>.crt`/`.key` (replacing any)."""
        ca = ca or self.authority()
        files = self.files(name, identity)
        issued = ca.issue(identity, days=days, hosts=hosts)
        _write(files.key, issued.key_pem, secret=True)
        _write(files.cert, issued.cert_pem, secret=False)
        return files

    def ensure(self, hosts: Sequence[str]) -> dict[str, Any]:
        """Every identity of `LOCAL`, issued where missing or stale; the `tls` section of
        `endpoints.json`. `hosts`: what the services' certificates name."""
        ca = self.authority()
        listed = {}
        for name, identity in LOCAL.items():
            files = self.files(name, identity)
            serving = [*hosts, name] if identity.kind in SERVING else []
            if not (_fresh(files.cert, ca.cert, serving) and files.key.exists()):
                files = self.issue(name, identity, hosts=serving, ca=ca)
            listed[name] = files.as_json()
        return {"ca": str(self.ca_cert), "identities": listed}
