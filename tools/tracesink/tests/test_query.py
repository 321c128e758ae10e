"""The JSON waterfall endpoint the dispatcher screen's timeline reads."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from icc_testing import free_port
from icc_tracesink.model import Span
from icc_tracesink.query import QueryServer
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
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "traces.db"
    query = QueryServer(f"127.0.0.1:{free_port()}", db)
    query.start()
    try:
        yield f"http://127.0.0.1:{query.port}", db
    finally:
        query.stop()


def test_waterfall_of_an_incident_as_json(server: tuple[str, Path]) -> None:
    url, db = server
    # Before the sink has stored anything: an empty answer, not an error.
    empty = httpx.get(f"{url}/incidents/inc-1/waterfall", timeout=5)
    assert empty.status_code == 200 and empty.json()["spans"] == []

    store = SpanStore.open(db)
    store.insert([_span("1", 0, None), _span("2", 2, "1", error="UNAVAILABLE")])
    store.close()
    body = httpx.get(f"{url}/incidents/inc-1/waterfall", timeout=5).json()
    assert body["traces"] == ["a" * 32]
    assert [(s["service"], s["operation"], s["depth"], s["start_ms"]) for s in body["spans"]] == [
        ("incidents", "op-1", 0, 0.0),
        ("dispatch", "op-2", 1, 2.0),
    ]
    assert body["spans"][1]["error"] and body["spans"][1]["duration_ms"] == 5.0

    missing = httpx.get(f"{url}/traces", timeout=5)
    assert missing.status_code == 404 and "waterfall" in missing.json()["error"]


def test_the_screens_reads_are_shown_only_when_asked_for(server: tuple[str, Path]) -> None:
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
    hidden = httpx.get(f"{url}/incidents/inc-1/waterfall", timeout=5).json()
    assert [s["operation"] for s in hidden["spans"]] == ["op-1"]
    assert hidden["reads_hidden"] == 1
    shown = httpx.get(f"{url}/incidents/inc-1/waterfall?reads=1", timeout=5).json()
    assert [(s["operation"], s["step"]) for s in shown["spans"]] == [
        ("op-1", "other"),
        ("GET /api/v1/incidents/{id}", "reads"),
    ]
    assert [s["step"] for s in shown["steps"]] == ["other", "reads"]


def test_healthz_says_the_sink_is_up(server: tuple[str, Path]) -> None:
    url, _ = server
    assert httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
