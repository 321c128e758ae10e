"""What one run produced: its event log, KPIs, counters and end-of-run findings."""

from dataclasses import dataclass, field
from pathlib import Path

from icc_simulator.config import SimConfig
from icc_simulator.report.kpis import Kpis
from icc_simulator.world.eventlog import EventLog
from icc_simulator.world.scenarios import Scenario
from icc_simulator.world.stats import Stats


@dataclass(frozen=True)
class OpenIncident:
    """An incident of the run still open at the end, and why."""

    incident: str
    type_code: str
    priority: str
    why: str


@dataclass
class RunResult:
    config: SimConfig
    scenario: Scenario
    log: EventLog
    kpis: Kpis
    stats: Stats
    open_incidents: list[OpenIncident]
    # Units held by two incidents at once (should be empty), in words.
    double_booked: list[str]
    stations_closed: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
