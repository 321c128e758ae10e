"""Running counters of a simulation, for the live progress display and the report."""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    calls: int = 0
    incidents: int = 0
    duplicates: int = 0
    closed: int = 0
    merged: int = 0
    cancelled: int = 0
    queued: int = 0
    assignments: int = 0
    acknowledgements: int = 0
    transports: int = 0
    # Transports to the destination hospital dispatch recorded (the rest: the player's
    # own choice, when dispatch recorded none).
    transports_as_dispatched: int = 0
    positions: int = 0
    positions_refused: int = 0
    units_busy: int = 0
    units_total: int = 0
    # Errors by what failed, e.g. `create:UNAVAILABLE`; a run's health at a glance.
    errors: Counter[str] = field(default_factory=Counter)
    # Incidents of an earlier run taken over, and how many of those ended.
    adopted: int = 0
    adopted_ended: int = 0
    # A unit assigned while the player still had it working for another incident.
    conflicts: int = 0
    # The system's duplicate check, judged by what the simulator knows: a repeat call
    # whose event's incident it offered (hit), a call it offered other incidents for
    # (false alarm), a repeat it did not recognise (miss); repeats attached as callers.
    duplicate_hits: int = 0
    duplicate_false_alarms: int = 0
    duplicate_misses: int = 0
    attached: int = 0
    # Calls placed by searching the place the caller named, and those the search missed.
    places_searched: int = 0
    places_not_found: int = 0

    @property
    def ended(self) -> int:
        return self.closed + self.merged + self.cancelled

    @property
    def open(self) -> int:
        return self.incidents - self.ended

    @property
    def duplicate_precision(self) -> float | None:
        """Of the calls the check offered incidents for, the share it was right about."""
        flagged = self.duplicate_hits + self.duplicate_false_alarms
        return self.duplicate_hits / flagged if flagged else None

    @property
    def duplicate_recall(self) -> float | None:
        """Of the repeat calls whose event had an incident, the share it offered it for."""
        repeats = self.duplicate_hits + self.duplicate_misses
        return self.duplicate_hits / repeats if repeats else None

    def error(self, what: str) -> None:
        self.errors[what] += 1
