"""ICC's certificates: a private CA (`Authority`), the identity a certificate carries
(`Identity`, `identity_of`), the local system's certificates under `var/pki/` (`LocalPki`),
and the gateway's signed assertions of who is signed in (`assertion`)."""

from icc_pki.authority import Authority, Issued
from icc_pki.identity import TRUST_DOMAIN, BadIdentity, Identity, identity_of

__all__ = ["TRUST_DOMAIN", "Authority", "BadIdentity", "Identity", "Issued", "identity_of"]
