"""The simulator's own log of a run: what it called in, and what the system did.

Times are real Unix seconds as the services recorded them (assignment times from
dispatch, status times from resources) or, for the simulator's own acts, as it saw
them. KPIs are computed from this log alone (`icc_simulator.kpis`), so a test can
hand-write one. No personal data: callers are not in the log.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from icc_kernel.vocabulary import Agency, CallLine, Priority, UnitStatus


@dataclass(frozen=True)
class RunInfo:
    scenario: str
    seed: int
    speed: float
    start_hour: int
    # Calls per real minute (the base rate the scenario scales).
    rate_per_min: float
    t_start: float
    t_end: float = 0.0


@dataclass(frozen=True)
class IncidentCreated:
    t: float
    incident: str
    # The real-world event; a duplicate call shares it with the first call.
    event_id: str
    duplicate: bool
    type_code: str
    family: str
    priority: Priority
    ward: str
    agencies: tuple[Agency, ...]
    # The line the call came in on (112, 113, 114, 115, partner, other).
    line: CallLine = CallLine.OTHER


@dataclass(frozen=True)
class UnitAssigned:
    t: float
    incident: str
    unit: str
    agency: Agency


@dataclass(frozen=True)
class UnitStatusChanged:
    t: float
    unit: str
    agency: Agency
    status: UnitStatus
    # The incident the unit works for, "" when free.
    incident: str = ""


@dataclass(frozen=True)
class IncidentQueued:
    """Dispatch said the incident waits for units (QUEUED, or a shortfall of units)."""

    t: float
    incident: str
    missing: int
    reason: str


@dataclass(frozen=True)
class IncidentEnded:
    t: float
    incident: str
    # `closed`, `merged` or `cancelled`.
    how: str
    resolution: str = ""


Record = IncidentCreated | UnitAssigned | UnitStatusChanged | IncidentQueued | IncidentEnded
_TYPES: dict[str, type[Record]] = {
    cls.__name__: cls
    for cls in (IncidentCreated, UnitAssigned, UnitStatusChanged, IncidentQueued, IncidentEnded)
}


@dataclass
class EventLog:
    info: RunInfo
    records: list[Record] = field(default_factory=list)

    def add(self, record: Record) -> None:
        self.records.append(record)

    def of(self, cls: type[Record]) -> Iterator[Record]:
        return (r for r in self.records if isinstance(r, cls))

    # JSON lines: the run info first, then one record a line.

    def write_jsonl(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"type": "RunInfo", **asdict(self.info)}) + "\n")
            for r in self.records:
                f.write(json.dumps(_encode(r), ensure_ascii=False) + "\n")

    @classmethod
    def read_jsonl(cls, path: Path) -> "EventLog":
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        head.pop("type")
        log = cls(RunInfo(**head))
        for line in lines[1:]:
            if line.strip():
                log.add(_decode(json.loads(line)))
        return log


def _encode(r: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(r).__name__}
    for k, v in asdict(r).items():
        if isinstance(v, tuple):
            v = [x.name if hasattr(x, "name") else x for x in v]
        elif hasattr(v, "name"):
            v = v.name
        out[k] = v
    return out


def _decode(raw: dict[str, Any]) -> Record:
    cls = _TYPES[raw.pop("type")]
    if "priority" in raw:
        raw["priority"] = Priority[raw["priority"]]
    if "agency" in raw:
        raw["agency"] = Agency[raw["agency"]]
    if "agencies" in raw:
        raw["agencies"] = tuple(Agency[a] for a in raw["agencies"])
    if "status" in raw:
        raw["status"] = UnitStatus[raw["status"]]
    if "line" in raw:
        raw["line"] = CallLine[raw["line"]]
    return cls(**raw)


def extend(log: EventLog, records: Iterable[Record]) -> None:
    for r in records:
        log.add(r)
