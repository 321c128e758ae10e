"""The certificates `icc run` starts the system with (var/pki/): the local CA and every
identity's files, and the `ICC_TLS_*` variables a process is given of them."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from icc_pki.local import LocalPki
from icc_rpc import TlsConfig
from icc_rpc.tls import CA_VARIABLE, CERT_VARIABLE, KEY_VARIABLE

# The identity `icc run` and `icc status` ask the services' health as.
ENGINEER = "oncall"


def ensure_local_pki(pki_dir: Path, host: str) -> dict[str, Any]:
    """The local CA and certificates under `pki_dir`, made or renewed where needed, for
    services answering on `host` and on the loopback names: the `tls` section of
    `endpoints.json`."""
    hosts = sorted({host, "127.0.0.1", "localhost", "::1"})
    return LocalPki(pki_dir).ensure(hosts)


def tls_of(section: Mapping[str, Any], name: str) -> TlsConfig:
    """The files of identity `name` in the `tls` section of `endpoints.json`."""
    mine = section["identities"][name]
    return TlsConfig(Path(section["ca"]), Path(mine["cert"]), Path(mine["key"]))


def tls_env(section: Mapping[str, Any], name: str) -> dict[str, str]:
    """`ICC_TLS_*` of the process that runs as identity `name`."""
    tls = tls_of(section, name)
    return {CA_VARIABLE: str(tls.ca), CERT_VARIABLE: str(tls.cert), KEY_VARIABLE: str(tls.key)}
