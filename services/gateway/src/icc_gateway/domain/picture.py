"""The common operating picture: a read model of open incidents, units and hospitals.

Pure: no I/O. The feed (feed.py) hands it full snapshots of things (from gRPC answers and
events, in whatever order and as often as they come) and it keeps the newest version of
each, so applying anything twice or late changes nothing. Every change it makes gets the
next cursor number and goes into a bounded ring, from which a screen that reconnects is
replayed exactly what it missed.
"""

import itertools
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from icc_gateway.domain.kpis import ResponseWindow
from icc_gateway.domain.model import (
    Change,
    Hospital,
    Incident,
    IncidentAssignment,
    Kind,
    Op,
    Removed,
    Snapshot,
    Unit,
    iso_time,
)
from icc_kernel.vocabulary import AssignmentState

# Ordering of versions of one thing: (etag version, update time in microseconds).
Version = tuple[int, int]


@dataclass
class _Unit:
    item: Unit
    version: Version
    # When the latest position was taken (microseconds); 0: no position yet.
    position_time: int = 0
    # When the position screens were last sent was taken (`item.position_time`).
    shown_time: int = 0


@dataclass
class Picture:
    ring_size: int = 10_000
    cursor: int = 0
    # Closed incidents remembered (id -> version), so that a late event cannot bring
    # one back; the oldest are forgotten beyond this many.
    max_tombstones: int = 100_000
    # A unit that reports without moving is sent again after this long, so that screens
    # see its position is fresh (they show one older than a minute as stale).
    position_refresh_s: float = 15.0
    incidents: dict[str, Incident] = field(default_factory=dict)
    hospitals: dict[str, Hospital] = field(default_factory=dict)
    _units: dict[str, _Unit] = field(default_factory=dict)
    _incident_versions: dict[str, Version] = field(default_factory=dict)
    # Cursor of each open incident's latest change (see `remove_missing_incidents`).
    _incident_cursors: dict[str, int] = field(default_factory=dict)
    _tombstones: OrderedDict[str, Version] = field(default_factory=OrderedDict)
    _hospital_versions: dict[str, Version] = field(default_factory=dict)
    _ring: deque[Change] = field(init=False)
    # The response-time KPIs' window: sees every new version of an incident, closed ones
    # too (which the picture itself forgets).
    kpis: ResponseWindow = field(default_factory=ResponseWindow)

    def __post_init__(self) -> None:
        self._ring = deque(maxlen=self.ring_size)

    # Reading

    def unit(self, unit_id: str) -> Unit | None:
        found = self._units.get(unit_id)
        return found.item if found is not None else None

    def unit_position_time(self, unit_id: str) -> int | None:
        found = self._units.get(unit_id)
        return found.position_time if found is not None else None

    @property
    def unit_count(self) -> int:
        return len(self._units)

    def units(self) -> Iterator[Unit]:
        return (u.item for u in self._units.values())

    def snapshot(self) -> Snapshot:
        """The `Picture` of API.md at `cursor` (without the time it is sent at)."""
        return Snapshot(
            cursor=self.cursor,
            incidents=list(self.incidents.values()),
            units=[u.item for u in self._units.values()],
            hospitals=list(self.hospitals.values()),
        )

    def changes_after(self, cursor: int) -> list[Change] | None:
        """The changes after `cursor`, oldest first; None when they are no longer all in
        the ring, or `cursor` is not one of this picture's (the screen needs a snapshot)."""
        if cursor == self.cursor:
            return []
        oldest = self._ring[0].cursor if self._ring else self.cursor + 1
        if cursor > self.cursor or cursor < oldest - 1:
            return None
        return list(itertools.islice(self._ring, cursor - oldest + 1, None))

    # Incidents

    def put_incident(self, item: Incident, version: Version, is_open: bool) -> Change | None:
        """An incident as its service last described it; a closed one leaves the picture."""
        incident_id = item.id
        known = self._incident_versions.get(incident_id) or self._tombstones.get(incident_id)
        if known is not None and version <= known:
            return None
        self.kpis.observe(item)
        if not is_open:
            self._incident_versions.pop(incident_id, None)
            self._incident_cursors.pop(incident_id, None)
            self._bury(incident_id, version)
            if self.incidents.pop(incident_id, None) is None:
                return None
            return self._record("incident", "remove", Removed(id=incident_id))
        self._tombstones.pop(incident_id, None)
        self._incident_versions[incident_id] = version
        before = self.incidents.get(incident_id)
        merged = self._merged_assignments(before.assignments if before else [], item.assignments)
        shown = item.model_copy(update={"assignments": merged})
        if shown == before:
            return None
        self.incidents[incident_id] = shown
        change = self._record("incident", "upsert", shown)
        self._incident_cursors[incident_id] = change.cursor
        return change

    def put_assignments(
        self, incident_id: str, assignments: list[IncidentAssignment]
    ) -> Change | None:
        """Dispatch's news about an incident's assignments, shown before the incidents
        service has recorded it (its own event follows and changes nothing more)."""
        before = self.incidents.get(incident_id)
        if before is None:
            return None  # not open here (yet): the incident's own events carry them
        merged = self._merged_assignments(before.assignments, assignments)
        if merged == before.assignments:
            return None
        shown = before.model_copy(update={"assignments": merged})
        self.incidents[incident_id] = shown
        change = self._record("incident", "upsert", shown)
        self._incident_cursors[incident_id] = change.cursor
        return change

    def remove_missing_incidents(self, open_ids: set[str], listed_after: int) -> list[Change]:
        """After a full re-read: incidents no longer open whose closing was missed.

        Only those unchanged since `listed_after` (the cursor when the re-read began): one
        that changed later was seen after the list was taken, and may be newer than it.
        """
        gone = [
            incident_id
            for incident_id in self.incidents
            if incident_id not in open_ids
            and self._incident_cursors.get(incident_id, 0) <= listed_after
        ]
        changes = []
        for incident_id in gone:
            version = self._incident_versions.pop(incident_id, (0, 0))
            self._incident_cursors.pop(incident_id, None)
            self._bury(incident_id, version)
            del self.incidents[incident_id]
            changes.append(self._record("incident", "remove", Removed(id=incident_id)))
        return changes

    def _bury(self, incident_id: str, version: Version) -> None:
        self._tombstones[incident_id] = version
        self._tombstones.move_to_end(incident_id)
        while len(self._tombstones) > self.max_tombstones:
            self._tombstones.popitem(last=False)

    def _merged_assignments(
        self, before: list[IncidentAssignment], news: list[IncidentAssignment]
    ) -> list[IncidentAssignment]:
        """The union by id, each in its latest state (states only move forward), with
        what the news lacks (the unit's kind, times, an escalation) from before."""
        merged = {a.id: a for a in before}
        for a in news:
            old = merged.get(a.id)
            if old is not None and _rank(a) < _rank(old):
                continue
            kind = a.kind or (old.kind if old else None) or self._kind_of(a.unit)
            assign_time = a.assign_time or (old.assign_time if old else None)
            release_time = a.release_time or (old.release_time if old else None)
            # Only dispatch's news says an assignment was escalated: kept once known.
            escalated = a.escalated or (old is not None and old.escalated)
            known = (kind, assign_time, release_time, escalated)
            if known != (a.kind, a.assign_time, a.release_time, a.escalated):
                a = a.model_copy(
                    update={
                        "kind": kind,
                        "assign_time": assign_time,
                        "release_time": release_time,
                        "escalated": escalated,
                    }
                )
            merged[a.id] = a
        return list(merged.values())

    def _kind_of(self, unit_id: str) -> str | None:
        unit = self._units.get(unit_id)
        return unit.item.kind if unit is not None else None

    # Units

    def put_unit(
        self, item: Unit, version: Version, position_time: int | None = None
    ) -> Change | None:
        """A unit as the resources service last described it. Status events carry no
        position: the one shown stays, as does a newer one from the position feed."""
        unit_id = item.id
        known = self._units.get(unit_id)
        if known is not None and version <= known.version:
            return None
        shown = item
        kept_time = known.position_time if known is not None else 0
        shown_time = position_time or 0
        if known is not None and (position_time is None or position_time <= kept_time):
            kept = known.item
            where = (kept.lat, kept.lon, kept.position_time)
            if (item.lat, item.lon, item.position_time) != where:
                shown = item.model_copy(
                    update={"lat": kept.lat, "lon": kept.lon, "position_time": kept.position_time}
                )
            position_time, shown_time = kept_time, known.shown_time
        self._units[unit_id] = _Unit(shown, version, position_time or 0, shown_time)
        if known is not None and shown == known.item:
            return None
        return self._record("unit", "upsert", shown)

    def move_unit(self, unit_id: str, lat: float, lon: float, taken: int) -> Change | None:
        """A position report (`taken`: microseconds); older than the one shown: ignored."""
        known = self._units.get(unit_id)
        if known is None or taken <= known.position_time:
            return None
        known.position_time = taken
        still = known.item.lat == lat and known.item.lon == lon
        if still and taken - known.shown_time < self.position_refresh_s * 1e6:
            return None
        known.shown_time = taken
        seconds, rest = divmod(taken, 1_000_000)
        when = iso_time(seconds, rest * 1000)
        known.item = known.item.model_copy(update={"lat": lat, "lon": lon, "position_time": when})
        return self._record("unit", "upsert", known.item)

    # Hospitals

    def put_hospital(self, item: Hospital, version: Version) -> Change | None:
        hospital_id = item.id
        known = self._hospital_versions.get(hospital_id)
        if known is not None and version <= known:
            return None
        self._hospital_versions[hospital_id] = version
        if self.hospitals.get(hospital_id) == item:
            return None
        self.hospitals[hospital_id] = item
        return self._record("hospital", "upsert", item)

    def _record(self, kind: Kind, op: Op, item: Incident | Unit | Hospital | Removed) -> Change:
        self.cursor += 1
        change = Change(cursor=self.cursor, kind=kind, op=op, item=item)
        self._ring.append(change)
        return change


def _rank(assignment: IncidentAssignment) -> int:
    """How far an assignment has come: its state's number (states only move forward)."""
    state = assignment.state
    return AssignmentState[state].value if state else 0


class PositionThrottle:
    """At most one position change per unit per `interval_s`.

    The first report after a quiet spell goes through at once; reports inside the
    interval are held, the latest replacing earlier ones, and released when it ends
    (`due`). Pure: the caller passes the time.
    """

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, tuple[float, float, int]] = {}

    def offer(
        self, unit_id: str, lat: float, lon: float, taken: int, now: float
    ) -> tuple[float, float, int] | None:
        """The position to apply now, or None when it is held for later."""
        last = self._last.get(unit_id)
        if unit_id not in self._held and (last is None or now - last >= self.interval_s):
            self._last[unit_id] = now
            return lat, lon, taken
        held = self._held.get(unit_id)
        if held is None or taken > held[2]:
            self._held[unit_id] = (lat, lon, taken)
        return None

    def due(self, now: float) -> list[tuple[str, float, float, int]]:
        """Held positions whose unit's interval is over, now applied."""
        out = []
        for unit_id, (lat, lon, taken) in list(self._held.items()):
            if now - self._last.get(unit_id, 0.0) >= self.interval_s:
                del self._held[unit_id]
                self._last[unit_id] = now
                out.append((unit_id, lat, lon, taken))
        return out

    @property
    def held(self) -> int:
        return len(self._held)
