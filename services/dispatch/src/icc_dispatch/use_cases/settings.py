"""How dispatch behaves: what it dispatches alone, how long a unit has to acknowledge."""

from dataclasses import dataclass
from datetime import timedelta

from icc_dispatch.domain.model import Priority


@dataclass(frozen=True)
class Settings:
    auto_priorities: frozenset[Priority] = frozenset({Priority.P1, Priority.P2})
    ack_within: timedelta = timedelta(seconds=60)
    candidates_per_role: int = 5
    mutual_aid_eta_s: int = 15 * 60
    # Reservations under way at the same time.
    concurrency: int = 8
    # A proposal older than this with no answer is settled by `reconcile`.
    settle_after: timedelta = timedelta(seconds=3)
