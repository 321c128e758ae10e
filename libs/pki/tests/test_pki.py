"""The identity form a certificate carries, read back exactly; certificates that name no
one refused; the gateway's assertions verified only for their audience and issuer."""

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from icc_kernel.principals import Kind
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency
from icc_pki import Authority, BadIdentity, Identity, identity_of
from icc_pki.assertion import BadAssertion, Person, Signer, verify
from icc_pki.local import LOCAL, LocalPki


def test_every_local_identity_reads_back_from_its_certificate() -> None:
    ca = Authority.create()
    for identity in LOCAL.values():
        cert = ca.issue(identity, hosts=["127.0.0.1", "incidents"]).certificate
        assert identity_of(cert) == identity
    police = identity_of(ca.issue(LOCAL["police-113"]).certificate)
    assert police.spiffe_id == "spiffe://icc.hcmc/partner/police-113"
    assert (police.agency, police.role, police.exercises) == (Agency.POLICE, "dispatcher", False)


def test_identities_that_say_the_impossible_are_refused() -> None:
    for kind, name, agency, role in (
        ("service", "dispatch", "POLICE", ""),  # a service belongs to the center
        ("partner", "police-113", "POLICE", "chief"),  # no such role
        ("partner", "bad name", "POLICE", "viewer"),
        ("device", "U-1", "FIRE", "dispatcher"),  # a device's role is unit
        ("nobody", "x", "POLICE", ""),
    ):
        with pytest.raises(BadIdentity):
            Identity.of(kind, name, agency, role)


def test_a_certificate_without_the_form_names_no_one() -> None:
    ca = Authority.create()
    cert = ca.issue(LOCAL["fire-114"]).certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(cert.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime.now(dt.UTC))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("spiffe://other/x/y")]),
            critical=False,
        )
    )
    with pytest.raises(BadIdentity):
        identity_of(builder.sign(ca.key, hashes.SHA256()))


def test_assertions_hold_for_their_service_and_gateway_only() -> None:
    ca = Authority.create()
    gateway = ca.issue(LOCAL["gateway"])
    other = ca.issue(Identity.of(Kind.GATEWAY, "other-gateway"))
    issuer = LOCAL["gateway"].spiffe_id
    person = Person("lan", Agency.FIRE, Role.DISPATCHER)
    token = Signer(gateway.key_pem, issuer).sign(person, "icc.incident.v1.IncidentService")
    found, expires = verify(token, gateway.certificate, issuer, "icc.incident.v1.IncidentService")
    assert (found.kind, found.name, found.agency, found.role) == (
        Kind.PERSON,
        "lan",
        Agency.FIRE,
        "dispatcher",
    )
    assert found.system == issuer and expires <= time.time() + 61
    for cert, aud in (
        (gateway.certificate, "icc.resource.v1.ResourceService"),  # another service
        (other.certificate, "icc.incident.v1.IncidentService"),  # another key
    ):
        with pytest.raises(BadAssertion):
            verify(token, cert, issuer, aud)
    old = Signer(gateway.key_pem, issuer).sign(person, "a", now=time.time() - 120)
    with pytest.raises(BadAssertion):
        verify(old, gateway.certificate, issuer, "a")


def test_an_assertion_names_a_partner_as_its_certificate_would() -> None:
    ca = Authority.create()
    gateway = ca.issue(LOCAL["gateway"])
    issuer = LOCAL["gateway"].spiffe_id
    signer = Signer(gateway.key_pem, issuer)
    aud = "icc.incident.v1.IncidentService"
    partner = Person("police-113", Agency.POLICE, Role.DISPATCHER, False, Kind.PARTNER)
    found, _ = verify(signer.sign(partner, aud), gateway.certificate, issuer, aud)
    assert found == replace(LOCAL["police-113"].principal(), system=issuer)
    # A gateway acts for people and partners only, and a partner is named as a
    # certificate would name it.
    with pytest.raises(ValueError, match="person or a partner"):
        Person("dispatch", Agency.COMMAND_CENTER, Role.SUPERVISOR, kind=Kind.SERVICE)
    now = int(time.time())
    base = {"iss": issuer, "aud": aud, "iat": now, "exp": now + 60, "sub": "police-113"}
    base |= {"agency": "POLICE", "role": "dispatcher", "exercises": False}
    key = serialization.load_pem_private_key(gateway.key_pem, password=None)
    for changes in (
        {"kind": "service"},
        {"kind": "gateway"},
        {"kind": "PARTNER"},
        {"kind": ""},
        {"kind": "partner", "sub": "bad name"},
    ):
        token = jwt.encode(base | changes, key, algorithm="ES256")  # type: ignore[arg-type]
        with pytest.raises(BadAssertion):
            verify(token, gateway.certificate, issuer, aud)
    # Without the claim (a gateway from before partners): a person.
    found, _ = verify(jwt.encode(base, key, algorithm="ES256"), gateway.certificate, issuer, aud)  # type: ignore[arg-type]
    assert found.kind is Kind.PERSON


def test_the_local_pki_is_made_once_and_renewed_when_the_ca_changes(tmp_path: Path) -> None:
    pki = LocalPki(tmp_path / "pki")
    first = pki.ensure(["127.0.0.1"])
    assert set(first["identities"]) == set(LOCAL)
    stamp = Path(first["identities"]["police-113"]["cert"]).read_bytes()
    assert pki.ensure(["127.0.0.1"]) == first
    assert Path(first["identities"]["police-113"]["cert"]).read_bytes() == stamp
    (tmp_path / "pki" / "ca.crt").unlink()
    pki.ensure(["127.0.0.1"])
    assert Path(first["identities"]["police-113"]["cert"]).read_bytes() != stamp
    assert oct((tmp_path / "pki" / "police-113.key").stat().st_mode & 0o777) == "0o600"
