"""What the use cases need of the world outside: dispatch's records, and the resources
service. Adapters implement them (`icc_dispatch.records` over SQL, `ResourcesClient` over
gRPC); unit tests pass fakes for the resources service."""

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from icc_dispatch.domain.case import Case
from icc_dispatch.domain.events import DispatchEvent
from icc_dispatch.domain.hospitals import HospitalView
from icc_dispatch.domain.model import Assignment, IncidentView, UnitKind

T = TypeVar("T")

# The resources service, all or nothing: the reserved units' versions, or UnitsUnavailable.
ReserveUnits = Callable[[str, list[str], str], Awaitable[dict[str, int]]]
# True: released (or free already); False: refused, not this incident's unit there.
ReleaseUnits = Callable[[str, list[str], str, str], Awaitable[bool]]
# Re-reads units the fleet view was wrong about (a lost reservation).
RefreshUnits = Callable[[list[str]], Awaitable[None]]
# The hospitals as the resources service knows them now (diversion included).
ListHospitals = Callable[[], Awaitable[list[HospitalView]]]


class Reads(Protocol):
    """Dispatch's records as one read sees them."""

    async def case_or_none(self, incident_id: str) -> Case | None: ...

    async def case(self, incident_id: str) -> Case:
        """NotFound when dispatch has not heard of the incident."""
        ...

    async def assignments_of(self, incident_id: str) -> list[Assignment]: ...

    async def by_request(self, request_id: str) -> list[Assignment]: ...

    async def active_for_unit(self, unit_id: str) -> Assignment | None: ...

    async def any_attention(self) -> bool:
        """Whether an open incident waits to be looked at (the loop's queue)."""
        ...

    async def most_urgent(self, skip: Iterable[str]) -> str | None:
        """The open incident to look at next (most urgent, then oldest), but `skip`."""
        ...

    async def any_waiting(self, kinds: Iterable[UnitKind]) -> bool:
        """Whether an open incident waits for a unit of one of `kinds`."""
        ...

    async def unfinished(self) -> tuple[list[Assignment], list[Assignment]]:
        """Proposals with no answer yet, and releases the resources service has not heard of."""
        ...

    async def overdue(self, now: datetime) -> list[Assignment]:
        """Assignments whose acknowledgement is late."""
        ...


class Writes(Reads, Protocol):
    """Dispatch's records within one write transaction (commits are shared: see
    `icc_storage.batch`; a write may run again, so it decides on what it reads)."""

    async def claim(self, consumer: str, event_id: str) -> bool:
        """Records the event as handled; False when it was already (then do nothing)."""
        ...

    async def by_request_locked(self, request_id: str) -> list[Assignment]:
        """The request's assignments, locked until this write commits: another replica
        confirming the same reservation waits, then reads it confirmed."""
        ...

    async def insert_case(self, view: IncidentView, attention: bool, trace_context: str) -> bool:
        """Dispatch's first copy of an incident; False when it has one already."""
        ...

    async def upsert_case(self, view: IncidentView, attention: bool, trace_context: str) -> bool:
        """Stores the newer copy when it matters to dispatch; False when it does not."""
        ...

    async def settle(self, before: Case, after: Case) -> bool:
        """`after`'s state, if nobody acted on the case since `before` was read."""
        ...

    async def take(self, case: Case, *, settled: bool) -> bool:
        """Marks a decision on the case (`settled`: it needs nothing more for now), if
        nobody acted on it since it was read."""
        ...

    async def want_attention(self, incident_id: str) -> None: ...

    async def exclude_unit(self, incident_id: str, unit_id: str) -> None:
        """The unit is not offered to the incident again; the loop looks at it."""
        ...

    async def wake_waiting(self, freed: Mapping[UnitKind, int]) -> int:
        """`n` units of a kind are free: the `n` most urgent incidents waiting for that
        kind want attention again."""
        ...

    async def held_units(self, unit_ids: Iterable[str]) -> set[str]:
        """Which of these units an assignment still holds."""
        ...

    async def load_assignment(self, assignment_id: str) -> Assignment:
        """NotFound when there is no such assignment."""
        ...

    async def insert_assignments(self, items: Sequence[Assignment]) -> None: ...

    async def save_assignments(self, items: Sequence[Assignment]) -> None: ...

    async def delete_assignments(self, ids: Iterable[str]) -> None: ...

    async def release_told(self, assignment_ids: Sequence[str]) -> None:
        """The resources service has freed these units: nothing left to tell it."""
        ...

    def announce(self, events: Sequence[DispatchEvent]) -> None:
        """Events to publish once this transaction commits (the outbox)."""
        ...


class Records(Protocol):
    """Dispatch's own records: small reads, and writes that share commits."""

    def read(self) -> AbstractAsyncContextManager[Reads]: ...

    async def write(self, work: Callable[[Writes], Awaitable[T]]) -> T:
        """Runs `work` in a transaction; returns once that transaction committed."""
        ...

    def write_later(self, work: Callable[[Writes], Awaitable[None]]) -> None:
        """Bookkeeping nobody waits for: it rides along with the next commit."""
        ...
