"""Waterfall rows: parent/child order, offsets from the first span, errors."""

from rich.console import Console

from icc_tracesink.model import Span
from icc_tracesink.waterfall import Row, bar, render, rows, total_ms

MS = 1_000_000
T0 = 1_700_000_000_000 * MS  # an epoch time in ns, as spans carry


def span(
    span_id: str,
    start_ms: float,
    end_ms: float,
    *,
    parent: str | None = None,
    service: str = "incidents",
    trace: str = "t",
    error: str | None = None,
) -> Span:
    return Span(
        trace_id=trace * 32,
        span_id=span_id * 16,
        parent_span_id=parent * 16 if parent else None,
        service=service,
        name=f"op-{span_id}",
        kind="INTERNAL",
        start_ns=T0 + int(start_ms * MS),
        end_ns=T0 + int(end_ms * MS),
        status_code="ERROR" if error is not None else "UNSET",
        status_message=error or "",
    )


def test_rows_are_depth_first_with_children_by_start_and_orphans_as_roots() -> None:
    spans = [
        span("b", 10, 30, parent="a", service="dispatch"),
        span("a", 0, 100),
        span("c", 5, 8, parent="a"),
        span("d", 12, 20, parent="b", service="dispatch", error="no unit available"),
        span("e", 2, 3, parent="9"),  # its parent was never received
        span("f", 150, 160, trace="u", service="resources"),  # another (linked) trace
    ]
    assert rows(spans) == [
        Row("t" * 32, "incidents", "op-a", 0.0, 100.0, None, 0),
        Row("t" * 32, "incidents", "op-c", 5.0, 3.0, None, 1),
        Row("t" * 32, "dispatch", "op-b", 10.0, 20.0, None, 1),
        Row("t" * 32, "dispatch", "op-d", 12.0, 8.0, "no unit available", 2),
        Row("t" * 32, "incidents", "op-e", 2.0, 1.0, None, 0),
        Row("u" * 32, "resources", "op-f", 150.0, 10.0, None, 0),
    ]
    assert total_ms(rows(spans)) == 160.0


def test_an_error_span_without_a_message_still_shows_an_error() -> None:
    (row,) = rows([span("a", 0, 1, error="")])
    assert row.error == "error"


def test_a_parent_cycle_shows_every_span_once() -> None:
    spans = [span("a", 0, 1, parent="b"), span("b", 1, 2, parent="a")]
    assert [r.operation for r in rows(spans)] == ["op-a", "op-b"]
    assert rows([]) == []


def test_bars_place_each_span_on_the_timeline() -> None:
    assert bar(0, 100, 100, 10) == "██████████"
    assert bar(50, 25, 100, 10) == "     ██   "
    assert bar(99, 0.01, 100, 10) == "         █"  # too short to see is still one cell
    assert bar(0, 0, 0, 4) == "█   "


def test_render_shows_operations_indented_errors_under_them_and_bars_in_the_width() -> None:
    spans = [
        span("a", 0, 100),
        span("b", 10, 30, parent="a", service="dispatch", error="no unit available"),
    ]
    console = Console(width=100, record=True)
    console.print(render(rows(spans), width=100))
    lines = console.export_text().splitlines()
    assert lines[0].split() == [
        "service",
        "operation",
        "start",
        "ms",
        "ms",
        "0",
        "…",
        "100.0",
        "ms",
    ]
    assert lines[1].split() == ["incidents", "op-a", "0.0", "100.0", "█" * 49]
    assert lines[2].split() == ["dispatch", "op-b", "10.0", "20.0", "█" * 10]
    assert lines[2].index("op-b") == lines[1].index("op-a") + 2
    assert lines[3].strip() == "✗ no unit available"
    assert max(len(line.rstrip()) for line in lines) <= 100
