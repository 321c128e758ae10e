"""The JSON waterfall endpoint the dispatcher screen's timeline reads: over HTTPS, to the
gateway's and engineers' certificates only (real TLS, certificates of the test CA)."""

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from icc_pki import Authority
from icc_testing import free_port
from icc_testing.pki import Pki
from icc_tracesink.model import Span
from icc_tracesink.query import QueryServer, QueryTls
from icc_tracesink.store import SpanStore

MS = 1_000_000


def _span(span_id: str, start_ms: int, parent: str | None, error: str = "") -> Span:
    return Span(
        trace_id="a" * 32,
        span_id=span_id * 16,
        parent_span_id=parent * 16 if parent else None,
        service="dispatch" if parent else "incidents",
        name=f"op-{span_id}",
        kind="INTERNAL",
        start_ns=start_ms * MS,
        end_ns=(start_ms + 5) * MS,
        status_code="ERROR" if error else "UNSET",
        status_message=error,
        attributes={"icc.incident.id": "inc-1"} if parent is None else {},
    )


@pytest.fixture
def server(tmp_path: Path, pki: Pki) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "traces.db"
    own = pki.tls("tracesink")
    query = QueryServer(f"127.0.0.1:{free_port()}", db, QueryTls(own.ca, own.cert, own.key))
    query.start()
    try:
        yield f"https://127.0.0.1:{query.port}", db
    finally:
        query.stop()


@pytest.fixture
def engineer(pki: Pki) -> httpx.Client:
    return httpx.Client(verify=pki.tls("oncall").https_context(), timeout=5)


def test_timelines_only_to_the_gateway_and_engineers(
    server: tuple[str, Path], pki: Pki, tmp_path: Path
) -> None:
    url, _ = server
    waterfall = f"{url}/incidents/inc-1/waterfall"
    anonymous = ssl.create_default_context(cafile=str(pki.ca_path))
    refused = httpx.get(waterfall, verify=anonymous, timeout=5)
    assert refused.status_code == 401, refused.text
    assert "certificate" in refused.json()["error"]
    # Probes need no certificate.
    assert httpx.get(f"{url}/healthz", verify=anonymous, timeout=5).status_code == 200
    for name in ("police-113", "command-center", "incidents", "device-ambulance"):
        other = httpx.get(waterfall, verify=pki.tls(name).https_context(), timeout=5)
        assert other.status_code == 403, (name, other.text)
    for name in ("oncall", "gateway"):
        allowed = httpx.get(waterfall, verify=pki.tls(name).https_context(), timeout=5)
        assert allowed.status_code == 200, (name, allowed.text)
        assert allowed.json()["spans"] == []
    # An engineer's certificate from another CA ends the handshake.
    stranger = Authority.create("Another CA").issue(pki.identities["oncall"])
    (tmp_path / "s.crt").write_bytes(stranger.cert_pem)
    (tmp_path / "s.key").write_bytes(stranger.key_pem)
    foreign = ssl.create_default_context(cafile=str(pki.ca_path))
    foreign.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    with pytest.raises(httpx.HTTPError):
        httpx.get(waterfall, verify=foreign, timeout=5)


def test_waterfall_of_an_incident_as_json(server: tuple[str, Path], engineer: httpx.Client) -> None:
    url, db = server
    # Before the sink has stored anything: an empty answer, not an error.
    empty = engineer.get(f"{url}/incidents/inc-1/waterfall")
    assert empty.status_code == 200 and empty.json()["spans"] == []

    store = SpanStore.open(db)
    store.insert([_span("1", 0, None), _span("2", 2, "1", error="UNAVAILABLE")])
    store.close()
    body = engineer.get(f"{url}/incidents/inc-1/waterfall").json()
    assert body["traces"] == ["a" * 32]
    assert [(s["service"], s["operation"], s["depth"], s["start_ms"]) for s in body["spans"]] == [
        ("incidents", "op-1", 0, 0.0),
        ("dispatch", "op-2", 1, 2.0),
    ]
    assert body["spans"][1]["error"] and body["spans"][1]["duration_ms"] == 5.0

    missing = engineer.get(f"{url}/traces")
    assert missing.status_code == 404 and "waterfall" in missing.json()["error"]


def test_the_screens_reads_are_shown_only_when_asked_for(
    server: tuple[str, Path], engineer: httpx.Client
) -> None:
    url, db = server
    read = Span(
        trace_id="b" * 32,
        span_id="9" * 16,
        parent_span_id=None,
        service="gateway",
        name="GET /api/v1/incidents/{id}",
        kind="SERVER",
        start_ns=50 * MS,
        end_ns=60 * MS,
        attributes={"icc.incident.id": "inc-1", "http.method": "GET"},
    )
    store = SpanStore.open(db)
    store.insert([_span("1", 0, None), read])
    store.close()
    hidden = engineer.get(f"{url}/incidents/inc-1/waterfall").json()
    assert [s["operation"] for s in hidden["spans"]] == ["op-1"]
    assert hidden["reads_hidden"] == 1
    shown = engineer.get(f"{url}/incidents/inc-1/waterfall?reads=1").json()
    assert [(s["operation"], s["step"]) for s in shown["spans"]] == [
        ("op-1", "other"),
        ("GET /api/v1/incidents/{id}", "reads"),
    ]
    assert [s["step"] for s in shown["steps"]] == ["other", "reads"]


def test_healthz_says_the_sink_is_up(server: tuple[str, Path], engineer: httpx.Client) -> None:
    url, _ = server
    assert engineer.get(f"{url}/healthz").json() == {"status": "ok"}
