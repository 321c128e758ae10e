"""`icc trace INCIDENT` over a real trace sink database."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from icc_cli.main import app
from icc_testing import free_port
from icc_testing.pki import Pki
from icc_tracesink.model import Link, Span
from icc_tracesink.query import QueryServer, QueryTls
from icc_tracesink.store import SpanStore

MS = 1_000_000
T0 = 1_700_000_000_000 * MS
WIDE = {"COLUMNS": "200"}  # room for the whole table: a narrow one folds operation names


def span(
    trace: str,
    span_id: str,
    name: str,
    service: str,
    start_ms: int,
    end_ms: int,
    *,
    parent: str | None = None,
    incident: str | None = None,
    error: str | None = None,
    links: tuple[Link, ...] = (),
) -> Span:
    return Span(
        trace_id=trace * 32,
        span_id=span_id * 16,
        parent_span_id=parent * 16 if parent else None,
        service=service,
        name=name,
        kind="SERVER",
        start_ns=T0 + start_ms * MS,
        end_ns=T0 + end_ms * MS,
        status_code="ERROR" if error else "UNSET",
        status_message=error or "",
        attributes={"icc.incident.id": incident} if incident else {},
        links=links,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "var" / "traces.db"
    store = SpanStore.open(path)
    store.insert(
        [
            span("a", "1", "CreateIncident", "incidents", 0, 40, incident="4f2a9c"),
            span("a", "2", "publish icc.incident.created", "incidents", 30, 35, parent="1"),
            span(
                "b",
                "3",
                "consume icc.incident.created",
                "dispatch",
                50,
                120,
                links=(Link("a" * 32, "2" * 16),),
            ),
            span(
                "b",
                "4",
                "ReserveUnits",
                "resources",
                60,
                110,
                parent="3",
                incident="4f2a9c",
                error="unit u-12 is not available",
            ),
            span("c", "5", "GetIncident", "incidents", 500, 510, incident="someone-else"),
            # A supervisor's screen reading the incident: not part of its life.
            Span(
                trace_id="d" * 32,
                span_id="6" * 16,
                parent_span_id=None,
                service="gateway",
                name="GET /api/v1/incidents/{id}",
                kind="SERVER",
                start_ns=T0 + 200 * MS,
                end_ns=T0 + 210 * MS,
                attributes={"icc.incident.id": "4f2a9c", "http.method": "GET"},
            ),
        ]
    )
    store.close()
    return path


@pytest.mark.parametrize("incident", ["4f2a9c", "incidents/4f2a9c"])
def test_trace_prints_the_incidents_waterfall(db: Path, incident: str) -> None:
    result = CliRunner().invoke(app, ["trace", incident, "--db", str(db)], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "incidents/4f2a9c" in out
    assert f"2 traces {'a' * 32}, {'b' * 32}" in out
    assert "4 spans" in out
    assert "3 services (dispatch, incidents, resources)" in out
    assert "120.0 ms in all" in out
    for operation in (
        "CreateIncident",
        "publish icc.incident.created",
        "consume icc.incident.created",
        "ReserveUnits",
    ):
        assert operation in out
    assert "GetIncident" not in out
    assert "unit u-12 is not available" in out
    # Children under their parents, indented.
    assert out.index("CreateIncident") < out.index("  publish icc.incident.created")
    assert out.index("consume icc.incident.created") < out.index("  ReserveUnits")


def test_trace_finds_the_database_under_icc_var_dir(db: Path) -> None:
    result = CliRunner().invoke(
        app, ["trace", "4f2a9c"], env={**WIDE, "ICC_VAR_DIR": str(db.parent)}
    )
    assert result.exit_code == 0, result.output
    assert "ReserveUnits" in result.output


def test_trace_of_an_incident_without_spans_says_they_come_a_little_later(db: Path) -> None:
    result = CliRunner().invoke(app, ["trace", "nope", "--db", str(db)], env=WIDE)
    assert result.exit_code == 1
    assert "No spans of incident nope" in result.output
    assert "a few seconds" in result.output


def test_trace_without_a_database_says_how_to_get_one(tmp_path: Path) -> None:
    missing = tmp_path / "var" / "traces.db"
    result = CliRunner().invoke(app, ["trace", "4f2a9c", "--db", str(missing)], env=WIDE)
    assert result.exit_code == 1
    assert "No trace database" in result.output
    assert "make run" in result.output
    assert not missing.exists()


def test_trace_of_a_file_that_is_not_a_trace_database_says_so(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not sqlite\n" * 100)
    result = CliRunner().invoke(app, ["trace", "4f2a9c", "--db", str(other)], env=WIDE)
    assert result.exit_code == 1
    assert "Cannot read" in result.output


def test_trace_hides_the_screens_reads_unless_asked(db: Path) -> None:
    hidden = CliRunner().invoke(app, ["trace", "4f2a9c", "--db", str(db)], env=WIDE)
    assert "GET /api/v1/incidents/{id}" not in hidden.output
    assert "1 trace of the screen's own reads not shown (--reads shows them)" in hidden.output
    shown = CliRunner().invoke(app, ["trace", "4f2a9c", "--db", str(db), "--reads"], env=WIDE)
    assert "GET /api/v1/incidents/{id}" in shown.output
    assert "▸ Screen reads" in shown.output


def test_trace_reads_any_sink_over_https_as_the_engineer(db: Path, pki: Pki) -> None:
    own = pki.tls("tracesink")
    query = QueryServer(f"127.0.0.1:{free_port()}", db, QueryTls(own.ca, own.cert, own.key))
    query.start()
    try:
        sink = f"https://127.0.0.1:{query.port}"
        local = CliRunner().invoke(app, ["trace", "4f2a9c", "--db", str(db)], env=WIDE)
        remote = CliRunner().invoke(
            app,
            ["trace", "4f2a9c"],
            env={**WIDE, **pki.env("oncall"), "ICC_TRACESINK_QUERY_URL": sink},
        )
        # A partner's certificate is no engineer's: the sink refuses it.
        partner = CliRunner().invoke(
            app, ["trace", "4f2a9c", "--sink", sink], env={**WIDE, **pki.env("police-113")}
        )
    finally:
        query.stop()
    assert remote.exit_code == 0, remote.output
    assert remote.output == local.output  # the same timeline, the same table
    assert partner.exit_code == 1 and "403" in partner.output, partner.output


def test_trace_says_when_a_sink_does_not_answer(pki: Pki) -> None:
    result = CliRunner().invoke(
        app,
        ["trace", "4f2a9c", "--sink", f"https://127.0.0.1:{free_port()}"],
        env={**WIDE, **pki.env("oncall")},
    )
    assert result.exit_code == 1
    assert "did not answer a timeline" in result.output
