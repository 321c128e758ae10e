"""A test PKI, made once per test session: a CA, the local system's identities
(`icc_pki.local.LOCAL`: services, the gateway, the simulator, `command-center`, partners,
a hospital, a device, an engineer), and bad certificates (another CA's, an expired one).

    channel = pki.channel(target)                    # as `command-center`
    channel = pki.channel(target, "police-113")
    config = Config(..., tls=pki.tls("incidents"))   # a service's own files
    env = pki.env("dispatch")                        # ICC_TLS_* for a child process
"""

import datetime as dt
from pathlib import Path

import grpc

from icc_kernel.principals import Kind
from icc_pki import Authority, Identity, Issued
from icc_pki.assertion import METADATA_KEY, Person, Signer
from icc_pki.local import LOCAL
from icc_rpc import TlsConfig, open_channel, sync_channel
from icc_rpc.tls import CA_VARIABLE, CERT_VARIABLE, KEY_VARIABLE

# Where the tests' servers listen.
HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT = "command-center"


class Pki:
    """The session's CA and the certificates it issued (in memory and as files)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.ca = Authority.create("ICC test CA")
        self.other_ca = Authority.create("Another CA")
        self.ca_path = folder / "ca.crt"
        self.ca_path.write_bytes(self.ca.cert_pem)
        self.identities: dict[str, Identity] = dict(LOCAL)
        self._issued: dict[str, Issued] = {}

    def add(self, name: str, identity: Identity) -> None:
        """Another identity, e.g. a second device or a partner of UTILITY."""
        self.identities[name] = identity
        self._issued.pop(name, None)

    def issued(self, name: str) -> Issued:
        found = self._issued.get(name)
        if found is None:
            identity = self.identities[name]
            # Servers name their hosts: the services and the gateway (its partner listener).
            hosts = HOSTS if identity.kind in (Kind.SERVICE, Kind.GATEWAY) else ()
            found = self._issued[name] = self.ca.issue(identity, hosts=hosts)
        return found

    def tls(self, name: str) -> TlsConfig:
        """`name`'s certificate, key and the CA as files (a service's Config)."""
        issued = self.issued(name)
        cert, key = self.folder / f"{name}.crt", self.folder / f"{name}.key"
        if not cert.exists():
            cert.write_bytes(issued.cert_pem)
            key.write_bytes(issued.key_pem)
        return TlsConfig(self.ca_path, cert, key)

    def env(self, name: str) -> dict[str, str]:
        """`ICC_TLS_*` of a child process that runs as `name`."""
        tls = self.tls(name)
        return {CA_VARIABLE: str(tls.ca), CERT_VARIABLE: str(tls.cert), KEY_VARIABLE: str(tls.key)}

    def acting_for(self, person: Person, audience: str) -> tuple[tuple[str, str], ...]:
        """The metadata of a call the gateway makes for `person` to service `audience`
        (its gRPC full name): a fresh assertion signed with the gateway's key."""
        signer = Signer(self.issued("gateway").key_pem, self.identities["gateway"].spiffe_id)
        return ((METADATA_KEY, signer.sign(person, audience)),)

    def credentials(self, name: str = DEFAULT) -> grpc.ChannelCredentials:
        issued = self.issued(name)
        return grpc.ssl_channel_credentials(self.ca.cert_pem, issued.key_pem, issued.cert_pem)

    def channel(self, target: str, name: str = DEFAULT) -> grpc.aio.Channel:
        return open_channel(target, self.credentials(name))

    def sync_channel(self, target: str, name: str = DEFAULT) -> grpc.Channel:
        return sync_channel(target, self.credentials(name))

    def foreign(self, name: str = DEFAULT) -> grpc.ChannelCredentials:
        """`name`'s identity, certified by another CA."""
        issued = self.other_ca.issue(self.identities[name])
        return grpc.ssl_channel_credentials(self.ca.cert_pem, issued.key_pem, issued.cert_pem)

    def expired(self, name: str = DEFAULT) -> grpc.ChannelCredentials:
        """`name`'s identity, from this CA, expired yesterday."""
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
        issued = self.ca.issue(self.identities[name], days=30, not_before=start)
        return grpc.ssl_channel_credentials(self.ca.cert_pem, issued.key_pem, issued.cert_pem)
