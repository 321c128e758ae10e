"""The gateway's assertion of whom it acts for: a short-lived JWT (ES256) signed with the
private key of the gateway's own certificate, for one service (the audience). It names a
person signed in at its screen, or a partner whose client certificate the gateway itself
verified (its partner listener): the `kind` claim, `person` or `partner`, nothing else.

A service honours it only when the TLS peer is the gateway, and verifies it with the public
key of that peer's verified certificate, so no other key needs distributing and a rotated
gateway certificate rotates the signing key with it.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from icc_kernel.principals import Kind, Principal
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency
from icc_pki.identity import BadIdentity, Identity

ALGORITHM = "ES256"
TTL_S = 60
# Clock difference tolerated between the gateway and a service.
LEEWAY_S = 5
# The gRPC metadata key that carries it.
METADATA_KEY = "icc-assertion"
# Whom a gateway may act for.
KINDS = (Kind.PERSON, Kind.PARTNER)


class BadAssertion(ValueError):
    """Not a valid assertion for this service from this gateway; the message says why."""


@dataclass(frozen=True)
class Person:
    """Who the gateway acts for: a person signed in (`user` their user name), or a
    partner (`kind` PARTNER, `user` its certificate's name, as its certificate says)."""

    user: str
    agency: Agency
    role: Role
    exercises: bool = True
    kind: Kind = Kind.PERSON

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a gateway acts for a person or a partner, not a {self.kind}")


class Signer:
    """Signs assertions with the gateway's private key (PEM)."""

    def __init__(self, key_pem: bytes, issuer: str) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the gateway's key must be an EC P-256 key (ES256)")
        self._key = key
        self.issuer = issuer

    def sign(self, person: Person, audience: str, now: float | None = None) -> str:
        iat = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "sub": person.user,
            "aud": audience,
            "iat": iat,
            "exp": iat + TTL_S,
            "agency": person.agency.name,
            "role": person.role.value,
            "exercises": person.exercises,
            "kind": person.kind.value,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


def verify(
    token: str, cert: x509.Certificate, issuer: str, audience: str
) -> tuple[Principal, float]:
    """The person or partner a gateway's assertion names, for a call to `audience`, and
    when the assertion expires (Unix time); `cert` is the gateway's verified certificate,
    `issuer` its SPIFFE ID."""
    try:
        claims: Mapping[str, Any] = jwt.decode(
            token,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        if claims["exp"] - claims["iat"] > TTL_S + LEEWAY_S:
            raise BadAssertion("the assertion lives longer than allowed")
        user = str(claims["sub"])
        if not 0 < len(user) <= 200:
            raise BadAssertion("the assertion names no user")
        # Absent: a person (as before partners could be named).
        word = str(claims.get("kind", Kind.PERSON.value))
        if word not in {k.value for k in KINDS}:
            raise BadAssertion(f"a gateway acts for a person or a partner, not {word[:40]!r}")
        kind = Kind(word)
        agency = Agency[str(claims["agency"])]
        role = Role(str(claims["role"])).value
        if kind is Kind.PARTNER:
            # A partner's name and role as a partner certificate would say them.
            Identity(Kind.PARTNER, user, agency, role)
        person = Principal(
            kind=kind,
            name=user,
            agency=agency,
            role=role,
            exercises=bool(claims.get("exercises", False)),
            system=issuer,
        )
        return person, float(claims["exp"])
    except BadAssertion:
        raise
    except jwt.PyJWTError as exc:
        raise BadAssertion(f"the gateway's assertion is not valid: {exc}") from None
    except BadIdentity as exc:
        raise BadAssertion(f"the gateway's assertion names no partner: {exc}") from None
    except (KeyError, ValueError, TypeError):
        raise BadAssertion("the gateway's assertion names no agency or role") from None
