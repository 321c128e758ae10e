"""Spans as a waterfall: rows in parent/child order with offsets and the step of the
incident's life each belongs to (`icc_tracesink.steps`), and a rich table of them."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from icc_tracesink.model import Span
from icc_tracesink.steps import Step, marker

_NS_PER_MS = 1_000_000
_MIN_BAR, _MAX_BAR = 10, 60
_PALETTE = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green")


@dataclass(frozen=True)
class Row:
    trace_id: str
    service: str
    operation: str
    offset_ms: float  # from the start of the earliest span shown
    duration_ms: float
    error: str | None  # None unless the span's status is ERROR
    depth: int  # 0 for a root
    step: Step = Step.OTHER


def rows(spans: Sequence[Span]) -> list[Row]:
    """Depth first: roots by start time, each followed by its children by start time.

    A span whose parent is not among `spans` (not received, or in another process that does
    not export) is a root, so nothing is ever left out. Each row has its step: the one its
    span marks, else its parent's, else (a root) the first marked below it.
    """
    if not spans:
        return []
    origin = min(s.start_ns for s in spans)
    ids = {(s.trace_id, s.span_id) for s in spans}
    children: dict[tuple[str, str], list[Span]] = defaultdict(list)
    roots: list[Span] = []
    for s in spans:
        parent = (s.trace_id, s.parent_span_id) if s.parent_span_id else None
        if parent is not None and parent in ids and parent != (s.trace_id, s.span_id):
            children[parent].append(s)
        else:
            roots.append(s)

    out: list[Row] = []
    seen: set[tuple[str, str]] = set()
    below: dict[tuple[str, str], Step | None] = {}

    def first_below(s: Span) -> Step | None:
        key = (s.trace_id, s.span_id)
        if key not in below:
            below[key] = None  # a parent cycle ends here
            found = marker(s)
            for child in sorted(children[key], key=_by_start):
                found = found or first_below(child)
            below[key] = found
        return below[key]

    def visit(s: Span, depth: int, inherited: Step | None) -> None:
        key = (s.trace_id, s.span_id)
        if key in seen:  # a malformed parent cycle must not recurse for ever
            return
        seen.add(key)
        step = marker(s) or inherited or first_below(s) or Step.OTHER
        out.append(_row(s, origin, depth, step))
        for child in sorted(children[key], key=_by_start):
            visit(child, depth + 1, step)

    for root in sorted(roots, key=_by_start):
        visit(root, 0, None)
    # Spans in a parent cycle have no root; show them flat rather than drop them.
    for s in sorted(spans, key=_by_start):
        if (s.trace_id, s.span_id) not in seen:
            visit(s, 0, None)
    return out


def _by_start(s: Span) -> tuple[int, int, str]:
    return (s.start_ns, -s.end_ns, s.span_id)


def _row(s: Span, origin: int, depth: int, step: Step) -> Row:
    return Row(
        trace_id=s.trace_id,
        service=s.service,
        operation=s.name,
        offset_ms=(s.start_ns - origin) / _NS_PER_MS,
        duration_ms=max(0, s.end_ns - s.start_ns) / _NS_PER_MS,
        error=(s.status_message or "error") if s.is_error else None,
        depth=depth,
        step=step,
    )


def total_ms(rows: Sequence[Row]) -> float:
    """From the first span's start to the last span's end."""
    return max((r.offset_ms + r.duration_ms for r in rows), default=0.0)


def bar(offset_ms: float, duration_ms: float, total: float, width: int) -> str:
    """`width` characters with the span's share of the timeline filled; never empty."""
    if total <= 0:
        return "█".ljust(width)
    start = min(width - 1, int(offset_ms / total * width))
    length = max(1, min(width - start, round(duration_ms / total * width)))
    return (" " * start + "█" * length).ljust(width)


def render(rows: Sequence[Row], width: int = 120, *, steps: bool = False) -> Table:
    """A table `width` columns wide at most, as long as the text fits: the bar takes the rest.

    An error is shown in red under its operation rather than in a column of its own, so
    that an 80-column terminal still shows every column. `steps`: the rows come grouped by
    step, and each group opens with a line naming it.
    """
    total = total_ms(rows)
    several_traces = len({r.trace_id for r in rows}) > 1
    colors: dict[str, str] = {}
    for r in rows:
        colors.setdefault(r.service, _PALETTE[len(colors) % len(_PALETTE)])

    headers = (["trace"] if several_traces else []) + ["service", "operation", "start ms", "ms"]
    texts: list[list[Text]] = []
    for r in rows:
        color = "red" if r.error is not None else colors[r.service]
        indent = "  " * r.depth
        operation = Text(indent + r.operation, style="red" if r.error is not None else "")
        if r.error is not None:
            operation.append(f"\n{indent}✗ {r.error}", style="red")
        texts.append(
            ([Text(r.trace_id[:8], style="dim")] if several_traces else [])
            + [
                Text(r.service, style=color),
                operation,
                Text(f"{r.offset_ms:.1f}"),
                Text(f"{r.duration_ms:.1f}"),
            ]
        )
    widths = [
        max([len(h)] + [max(cell_len(line) for line in t[i].plain.split("\n")) for t in texts])
        for i, h in enumerate(headers)
    ]
    gaps = 2 * len(headers)  # one space each side of every column boundary
    bar_width = max(_MIN_BAR, min(_MAX_BAR, width - sum(widths) - gaps))

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for h in headers:
        numeric = h.endswith("ms")
        table.add_column(
            h,
            justify="right" if numeric else "left",
            no_wrap=h != "operation",
            overflow="fold",
            # On a narrow terminal rich would otherwise squeeze the names to nothing.
            min_width=min(24, widths[headers.index("operation")]) if h == "operation" else None,
        )
    table.add_column(f"0 … {total:.1f} ms", no_wrap=True, min_width=bar_width)
    heading: Step | None = None
    for r, t in zip(rows, texts, strict=True):
        if steps and r.step != heading:
            heading = r.step
            cells = [Text("")] * (len(headers) + 1)
            cells[headers.index("operation")] = Text(f"▸ {r.step.label}", style="bold")
            table.add_row(*cells)
        color = "red" if r.error is not None else colors[r.service]
        table.add_row(*t, Text(bar(r.offset_ms, r.duration_ms, total, bar_width), style=color))
    return table
