"""Who is calling, from the peer's verified certificate (never from what it writes).

The TLS handshake has already checked the certificate (issued by the CA, in its validity
period); here it is read into a `Principal` once and then found by its bytes, so a call
costs a dict lookup. A gateway may act for the person signed in at its screen with an
assertion (`icc_pki.assertion`) in the `icc-assertion` metadata, honoured only when the TLS
peer is a gateway and verified with its certificate's key. `icc-user`, `icc-agency` and
`icc-role` metadata are honoured from no one.
"""

import time
from typing import Any

import grpc
from cryptography import x509

from icc_kernel.principals import Kind, Principal
from icc_pki import BadIdentity, identity_of
from icc_pki.assertion import METADATA_KEY, BadAssertion, verify
from icc_rpc.errors import RpcError

_PEM = "x509_pem_cert"
# Bounds of the caches: certificates seen, assertions verified (each lives 60 s).
_MAX_CERTS = 10_000
_MAX_ASSERTIONS = 10_000


def unauthenticated(why: str) -> RpcError:
    return RpcError(grpc.StatusCode.UNAUTHENTICATED, why)


class Principals:
    """The principal of each call, from its TLS peer (cached per certificate)."""

    def __init__(self) -> None:
        self._certs: dict[bytes, tuple[Principal, x509.Certificate] | str] = {}
        # (token, audience) -> (principal, expiry (monotonic), gateway certificate bytes)
        self._assertions: dict[tuple[str, str], tuple[Principal, float, bytes]] = {}

    def of(self, context: Any, audience: str) -> Principal:
        """The caller of this call to `audience` (a gRPC service's full name), or
        UNAUTHENTICATED saying why there is none."""
        pems = context.auth_context().get(_PEM)
        if not pems:
            raise unauthenticated("a client certificate from the ICC CA is required")
        pem: bytes = pems[0]
        known = self._certs.get(pem)
        if known is None:
            known = self._read(pem)
        if isinstance(known, str):
            raise unauthenticated(known)
        principal, cert = known
        if principal.kind is not Kind.GATEWAY:
            return principal
        token = _assertion(context)
        if token is None:
            return principal
        return self._person(token, pem, cert, principal.system, audience)

    def _read(self, pem: bytes) -> tuple[Principal, x509.Certificate] | str:
        if len(self._certs) >= _MAX_CERTS:
            self._certs.clear()
        try:
            cert = x509.load_pem_x509_certificate(pem)
            found: tuple[Principal, x509.Certificate] | str = (
                identity_of(cert).principal(),
                cert,
            )
        except (BadIdentity, ValueError) as exc:
            found = f"the client certificate names no ICC identity: {exc}"
        self._certs[pem] = found
        return found

    def _person(
        self, token: str, pem: bytes, cert: x509.Certificate, issuer: str, audience: str
    ) -> Principal:
        now = time.monotonic()
        cached = self._assertions.get((token, audience))
        if cached is not None and cached[1] > now and cached[2] == pem:
            return cached[0]
        if len(self._assertions) >= _MAX_ASSERTIONS:
            self._assertions = {k: v for k, v in self._assertions.items() if v[1] > now}
        try:
            person, expires = verify(token, cert, issuer, audience)
        except BadAssertion as exc:
            raise unauthenticated(str(exc)) from None
        # Until it expires, the same assertion is not checked again.
        self._assertions[token, audience] = (person, now + (expires - time.time()), pem)
        return person


def _assertion(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == METADATA_KEY:
            return value if isinstance(value, str) else None
    return None
