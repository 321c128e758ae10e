"""An incident's timeline: its spans as waterfall rows grouped by the step of its life
(`icc_tracesink.steps`), without the screen's own reads unless they are asked for; and
the JSON the sink answers with it (`GET /incidents/ID/waterfall[?reads=1]`), which
`icc trace --sink` reads back.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from icc_tracesink.model import Span
from icc_tracesink.steps import Step, is_screen_read
from icc_tracesink.store import SpanStore
from icc_tracesink.waterfall import Row, rows

# An incident's traces are tens of spans; this bounds a pathological one.
MAX_SPANS = 5000


@dataclass(frozen=True)
class StepSummary:
    step: Step
    start_ms: float
    end_ms: float
    spans: int


@dataclass(frozen=True)
class Timeline:
    incident: str
    traces: tuple[str, ...]  # those shown, in the order they start
    rows: tuple[Row, ...]  # by step in the incident's order, then as in the waterfall
    reads_hidden: int  # traces of the screen's reads left out

    def steps(self) -> list[StepSummary]:
        found: dict[Step, list[Row]] = defaultdict(list)
        for r in self.rows:
            found[r.step].append(r)
        return [
            StepSummary(
                step,
                min(r.offset_ms for r in members),
                max(r.offset_ms + r.duration_ms for r in members),
                len(members),
            )
            for step, members in sorted(found.items(), key=lambda item: item[0].order)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "traces": list(self.traces),
            "reads_hidden": self.reads_hidden,
            "steps": [
                {
                    "step": s.step.value,
                    "label": s.step.label,
                    "start_ms": round(s.start_ms, 3),
                    "end_ms": round(s.end_ms, 3),
                    "spans": s.spans,
                }
                for s in self.steps()
            ],
            "spans": [
                {
                    "trace_id": r.trace_id,
                    "service": r.service,
                    "operation": r.operation,
                    "start_ms": round(r.offset_ms, 3),
                    "duration_ms": round(r.duration_ms, 3),
                    "depth": r.depth,
                    "error": r.error,
                    "step": r.step.value,
                }
                for r in self.rows
            ],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "Timeline":
        """What `to_json` wrote (from a sink over HTTP); ValueError when it is not that."""
        try:
            return cls(
                incident=str(raw["incident"]),
                traces=tuple(str(t) for t in raw["traces"]),
                rows=tuple(
                    Row(
                        trace_id=str(s["trace_id"]),
                        service=str(s["service"]),
                        operation=str(s["operation"]),
                        offset_ms=float(s["start_ms"]),
                        duration_ms=float(s["duration_ms"]),
                        error=None if s["error"] is None else str(s["error"]),
                        depth=int(s["depth"]),
                        step=Step(s.get("step", Step.OTHER)),
                    )
                    for s in raw["spans"]
                ),
                reads_hidden=int(raw.get("reads_hidden", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a trace sink's timeline: {exc!r}") from None


def timeline(incident_id: str, spans: Sequence[Span], *, reads: bool = False) -> Timeline:
    """The timeline of `spans` (an incident's traces); traces the screen's reads started
    are left out unless `reads`, and grouped last when shown."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    shown: list[Span] = []
    read_traces: set[str] = set()
    for trace_id, members in by_trace.items():
        if is_screen_read(_root(members)):
            read_traces.add(trace_id)
            if not reads:
                continue
        shown.extend(members)
    found = [replace(r, step=Step.READS) if r.trace_id in read_traces else r for r in rows(shown)]
    ordered = sorted(found, key=lambda r: r.step.order)  # stable: the waterfall's order within
    return Timeline(
        incident=incident_id,
        traces=tuple(dict.fromkeys(r.trace_id for r in found)),
        rows=tuple(ordered),
        reads_hidden=0 if reads else len(read_traces),
    )


def load(store: SpanStore, incident_id: str, *, reads: bool = False) -> Timeline:
    traces = store.traces_of_incident(incident_id)
    return timeline(incident_id, store.spans_of(traces)[:MAX_SPANS], reads=reads)


def _root(members: Sequence[Span]) -> Span:
    """The first span of a trace with no parent among those received."""
    ids = {s.span_id for s in members}
    roots = [s for s in members if not s.parent_span_id or s.parent_span_id not in ids]
    return min(roots or members, key=lambda s: s.start_ns)
