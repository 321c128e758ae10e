"""Every unit's status as the resources service tells it: logged for the KPIs, counted
busy for the progress display, and passed on to the crews' player."""

from dataclasses import dataclass, field

from icc.resource.v1 import events_pb2 as resource_events
from icc_kernel.vocabulary import Agency, UnitStatus
from icc_simulator.players.api import UnitView, seconds
from icc_simulator.players.clock import SimClock
from icc_simulator.players.units import UnitPlayer
from icc_simulator.world.eventlog import EventLog, UnitStatusChanged
from icc_simulator.world.model import BUSY
from icc_simulator.world.stats import Stats


@dataclass
class StatusWatch:
    clock: SimClock
    log: EventLog
    stats: Stats
    player: UnitPlayer
    _busy: dict[str, bool] = field(default_factory=dict)

    def snapshot(self, views: list[UnitView]) -> None:
        """Every unit's status at the start of the run."""
        for v in views:
            self.log.add(
                UnitStatusChanged(self.clock.origin_wall, v.name, v.agency, v.status, v.incident)
            )
            self._busy[v.name] = v.status in BUSY
        self.stats.units_busy = sum(self._busy.values())

    def on_unit(self, event: resource_events.UnitStatusChanged) -> None:
        u = event.unit
        status = UnitStatus(u.status) if u.status else UnitStatus.AVAILABLE
        t = seconds(u.status_time) if u.HasField("status_time") else self.clock.wall_now()
        self.log.add(
            UnitStatusChanged(
                t,
                u.name,
                Agency(u.agency) if u.agency else Agency.COMMAND_CENTER,
                status,
                u.incident,
            )
        )
        self._busy[u.name] = status in BUSY
        self.stats.units_busy = sum(self._busy.values())
        self.player.on_unit_event(event)
