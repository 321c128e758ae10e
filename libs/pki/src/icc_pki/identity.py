"""Who a certificate names, in the one form ICC defines (README, "Identity").

- exactly one URI SAN, a SPIFFE ID: `spiffe://icc.hcmc/<kind>/<name>`, where kind is
  `service`, `partner`, `hospital`, `device`, `engineer` or `gateway` and name is the
  service (`dispatch`), the partner's client (`police-113`), the hospital's or the unit's
  id (`HOSP-CHORAY`, `U-PCCC-CAUONGLANH-E1`), the engineer's or the gateway's name;
- the subject: `CN` the name again (for people reading it), `O` the agency
  (`POLICE`, `FIRE`, `MEDICAL`, `COMMAND_CENTER`, `UTILITY`), `OU` the role, and a second
  `OU=exercises` when the holder takes part in exercises (drills are shown to it).

Only a partner's agency and role vary: a partner is `viewer`, `call_taker`, `dispatcher` or
`supervisor` of its agency (the command center's own clients are partners of
`COMMAND_CENTER`). Services, the gateway and engineers belong to the command center; a
device's agency is its unit's. Every field is checked when a certificate is read, so a
certificate that says anything else names no one.
"""

import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from icc_kernel.principals import Kind, Principal
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency

TRUST_DOMAIN = "icc.hcmc"
EXERCISES = "exercises"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# The role of each kind that has one role only.
FIXED_ROLES = {
    Kind.SERVICE: "system",
    Kind.GATEWAY: "system",
    Kind.ENGINEER: "engineer",
    Kind.DEVICE: "unit",
    Kind.HOSPITAL: "hospital",
}
CERTIFIED_KINDS = tuple(k for k in Kind if k is not Kind.PERSON)


class BadIdentity(ValueError):
    """A certificate or request that names no ICC identity; the message says why."""


@dataclass(frozen=True)
class Identity:
    kind: Kind
    name: str
    agency: Agency = Agency.COMMAND_CENTER
    role: str = ""
    exercises: bool = False

    def __post_init__(self) -> None:
        check(self)

    @classmethod
    def of(
        cls,
        kind: Kind | str,
        name: str,
        agency: Agency | str = Agency.COMMAND_CENTER,
        role: str = "",
        exercises: bool = False,
    ) -> "Identity":
        """With the kind's fixed role filled in, from words (`icc pki issue` options)."""
        try:
            k = Kind(kind)
            a = agency if isinstance(agency, Agency) else Agency[str(agency).upper()]
        except (ValueError, KeyError):
            raise BadIdentity(f"unknown kind {kind!r} or agency {agency!r}") from None
        return cls(k, name, a, role or FIXED_ROLES.get(k, ""), exercises)

    @property
    def spiffe_id(self) -> str:
        return f"spiffe://{TRUST_DOMAIN}/{self.kind}/{self.name}"

    def principal(self) -> Principal:
        return Principal(
            self.kind, self.name, self.agency, self.role, self.exercises, self.spiffe_id
        )

    def subject(self) -> x509.Name:
        attributes = [
            x509.NameAttribute(NameOID.COMMON_NAME, self.name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.agency.name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.role),
        ]
        if self.exercises:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, EXERCISES))
        return x509.Name(attributes)


def check(identity: Identity) -> None:
    kind, name = identity.kind, identity.name
    if kind is Kind.PERSON:
        raise BadIdentity("a person is never named by a certificate")
    if not _NAME.fullmatch(name):
        raise BadIdentity(f"name {name[:40]!r}: letters, digits, '.', '_' and '-', 1 to 100")
    if kind is Kind.PARTNER:
        if identity.role not in {r.value for r in Role}:
            raise BadIdentity(f"a partner's role is one of {', '.join(Role)}")
        return
    if identity.role != FIXED_ROLES[kind]:
        raise BadIdentity(f"a {kind}'s role is {FIXED_ROLES[kind]}")
    if kind in (Kind.SERVICE, Kind.GATEWAY, Kind.ENGINEER) and (
        identity.agency is not Agency.COMMAND_CENTER
    ):
        raise BadIdentity(f"a {kind} belongs to COMMAND_CENTER")


def identity_of(cert: x509.Certificate) -> Identity:
    """The identity a (verified) certificate names; BadIdentity when it names none."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise BadIdentity("no subject alternative name") from None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        raise BadIdentity("not exactly one URI SAN")
    prefix = f"spiffe://{TRUST_DOMAIN}/"
    kind_word, _, name = uris[0].removeprefix(prefix).partition("/")
    if not uris[0].startswith(prefix) or kind_word not in {k.value for k in CERTIFIED_KINDS}:
        raise BadIdentity(f"{uris[0][:80]!r} is not an ICC identity")
    subject = cert.subject
    agencies = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    units = [str(u.value) for u in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    roles = [u for u in units if u != EXERCISES]
    if len(agencies) != 1 or str(agencies[0]) not in Agency.__members__ or len(roles) != 1:
        raise BadIdentity("the subject needs one O (an agency) and one OU (a role)")
    return Identity(Kind(kind_word), name, Agency[str(agencies[0])], roles[0], EXERCISES in units)


def expiries(pem: bytes) -> list[tuple[str, dt.datetime]]:
    """Each certificate of a PEM file or bundle: its subject's common name and when it
    expires (for the expiry metric; a CA bundle holds two CAs during a rotation)."""
    found = []
    for cert in x509.load_pem_x509_certificates(pem):
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject = str(names[0].value) if names else cert.subject.rfc4514_string()
        found.append((subject, cert.not_valid_after_utc))
    return found
