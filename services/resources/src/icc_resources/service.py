"""Use cases of the resources service: validate, change, record, announce.

Each write runs through the `WriteBatcher`, so a unit's or hospital's row, its history
entry and its outbox event commit together. The use cases speak the domain's words:
they return units and hospitals and hand each change's event (`domain.events`) to
`announce` (`icc_resources.events`, which puts it on the outbox as protobuf); the store
maps rows.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from icc_kernel.actors import Actor
from icc_kernel.clock import utc_now
from icc_kernel.errors import (
    InvalidInput,
    NotFound,
    StaleEtag,
    Unavailable,
    Violation,
    raise_if_any,
)
from icc_kernel.names import listed_violations, name_of
from icc_kernel.requests import request_id_violations
from icc_kernel.vocabulary import Agency, Diversion, UnitStatus
from icc_resources import store
from icc_resources.domain import lifecycle
from icc_resources.domain.events import HospitalCapacityChanged, ResourceEvent, UnitStatusChanged
from icc_resources.domain.model import Capacity, Hospital, Station, Unit, UnitFilter
from icc_storage import Database, WriteBatcher, WriteTx

MAX_UNITS_PER_REQUEST = 50
MAX_REASON = 500

# An announcement made ready for the outbox of the write that calls it.
Stage = Callable[[WriteTx], None]


@dataclass
class ResourceService:
    db: Database
    batcher: WriteBatcher
    # Builds a change's event (`icc_resources.events.staged`).
    announce: Callable[[ResourceEvent], Stage]
    clock: Callable[[], datetime] = utc_now
    # Units as last read, by id (see `store.list_units`).
    _units: dict[str, Unit] = field(default_factory=dict)

    # Reads

    async def list_units(self, flt: UnitFilter, limit: int, after: str) -> list[Unit]:
        async with self.db.read() as conn:
            return await store.list_units(conn, flt, limit, after, self._units)

    async def get_unit(self, unit_id: str) -> Unit:
        async with self.db.read() as conn:
            return await store.load_unit(conn, unit_id)

    async def list_stations(self, agency: Agency | None) -> list[Station]:
        async with self.db.read() as conn:
            return await store.list_stations(conn, agency)

    async def list_hospitals(self) -> list[Hospital]:
        async with self.db.read() as conn:
            return await store.list_hospitals(conn)

    async def unit_ids(self) -> set[str]:
        async with self.db.read() as conn:
            return await store.unit_ids(conn)

    async def unit_agencies(self) -> dict[str, Agency]:
        """Each unit's agency (the AVL metric counts positions by agency)."""
        async with self.db.read() as conn:
            return await store.unit_agencies(conn)

    # Writes

    async def update_status(
        self, unit_id: str, status: UnitStatus, etag: str, reason: str, actor: Actor
    ) -> Unit:
        raise_if_any(_reason_violations(reason))

        async def work(tx: WriteTx) -> Unit:
            now = self.clock()
            unit = await store.load_unit(tx.conn, unit_id)
            changed = lifecycle.change_status(unit, status, expected_etag=etag, now=now)
            if not await store.save_unit(tx.conn, changed, expected_version=unit.version):
                raise StaleEtag(unit.name, etag or unit.etag, "a newer version")
            self._record(tx, UnitStatusChanged(changed, unit.status, reason, actor, now))
            return changed

        return await self.batcher.submit(work)

    async def reserve(
        self, incident_id: str, unit_ids: list[str], request_id: str, actor: Actor
    ) -> list[Unit]:
        """All or nothing: every unit is reserved for the incident, or none is."""
        raise_if_any(
            listed_violations(unit_ids, "units", "unit", MAX_UNITS_PER_REQUEST)
            + request_id_violations(request_id)
        )
        incident = name_of("incidents", incident_id)

        async def work(tx: WriteTx) -> list[Unit]:
            now = self.clock()
            if await self._answered(tx, request_id, "reserve", incident_id, unit_ids):
                return list((await store.load_units(tx.conn, unit_ids)).values())
            taken = await store.reserve_units(tx.conn, unit_ids, incident_id, now)
            # Judge by the rows as they are after the update, never by an earlier
            # read: on PostgreSQL another replica may have taken a unit in between,
            # and the conditional update then left it alone.
            after = await _load_all(tx, unit_ids)
            reasons = {
                name_of("units", u): why
                for u in unit_ids
                if (why := lifecycle.unavailable_reason(after[u], incident_id)) is not None
            }
            if reasons:
                # Raising rolls the whole transaction back: the units this call did
                # change are free again, so the loser holds nothing.
                raise Unavailable(reasons)
            self._remember(tx, request_id, "reserve", incident_id, unit_ids, now)
            # Exactly the rows this statement changed were AVAILABLE and are now ours.
            for u in unit_ids:
                if u in taken:
                    why = f"reserved for {incident}"
                    self._record(
                        tx, UnitStatusChanged(after[u], UnitStatus.AVAILABLE, why, actor, now)
                    )
            return [after[u] for u in unit_ids]

        return await self.batcher.submit(work)

    async def release(
        self, incident_id: str, unit_ids: list[str], request_id: str, reason: str, actor: Actor
    ) -> list[Unit]:
        raise_if_any(
            listed_violations(unit_ids, "units", "unit", MAX_UNITS_PER_REQUEST)
            + request_id_violations(request_id)
            + _reason_violations(reason)
        )
        why = f"released from {name_of('incidents', incident_id)}" + (
            f": {reason}" if reason else ""
        )

        async def work(tx: WriteTx) -> list[Unit]:
            now = self.clock()
            if await self._answered(tx, request_id, "release", incident_id, unit_ids):
                return list((await store.load_units(tx.conn, unit_ids)).values())
            found = await _load_all(tx, unit_ids)
            reasons = {}
            for u in unit_ids:
                unit = found[u]
                if unit.incident_id is None and unit.status is UnitStatus.AVAILABLE:
                    continue  # released already
                refused = lifecycle.release_reason(unit, incident_id)
                if refused:
                    reasons[unit.name] = refused
            if reasons:
                raise Unavailable(reasons, outcome="nothing released")
            result = []
            for u in unit_ids:
                unit = found[u]
                if unit.incident_id is None:
                    result.append(unit)
                    continue
                freed = lifecycle.release(unit, now)
                if not await store.save_unit(tx.conn, freed, expected_version=unit.version):
                    raise StaleEtag(unit.name, unit.etag, "a newer version")
                self._record(tx, UnitStatusChanged(freed, unit.status, why, actor, now))
                result.append(freed)
            self._remember(tx, request_id, "release", incident_id, unit_ids, now)
            return result

        return await self.batcher.submit(work)

    async def update_capacity(
        self, hospital_id: str, available: Capacity, diversion: Diversion, etag: str, actor: Actor
    ) -> Hospital:
        raise_if_any(
            [
                Violation(f"hospital.available.{k}", "must be between 0 and 10000")
                for k, v in available.fields().items()
                if not 0 <= v <= 10_000
            ]
        )

        async def work(tx: WriteTx) -> Hospital:
            now = self.clock()
            hospital = await store.load_hospital(tx.conn, hospital_id)
            if etag and etag != hospital.etag:
                raise StaleEtag(hospital.name, etag, hospital.etag)
            changed = replace(
                hospital,
                available=available,
                diversion=diversion,
                update_time=now,
                version=hospital.version + 1,
            )
            if not await store.save_hospital(tx.conn, changed, expected_version=hospital.version):
                raise StaleEtag(hospital.name, etag or hospital.etag, "a newer version")
            self._record(tx, HospitalCapacityChanged(changed, actor, now))
            return changed

        return await self.batcher.submit(work)

    # Helpers

    def _record(self, tx: WriteTx, event: ResourceEvent) -> None:
        store.append_history(tx, event)
        self.announce(event)(tx)

    async def _answered(
        self, tx: WriteTx, request_id: str, method: str, incident_id: str, unit_ids: list[str]
    ) -> bool:
        """Whether this request was answered before (its id names the same request)."""
        if not request_id:
            return False
        recorded = await store.recorded_request(tx.conn, request_id)
        if recorded is None:
            return False
        if recorded != (method, incident_id, ",".join(unit_ids)):
            raise InvalidInput.one("request_id", "already used for a different request")
        return True

    def _remember(
        self,
        tx: WriteTx,
        request_id: str,
        method: str,
        incident_id: str,
        unit_ids: list[str],
        now: datetime,
    ) -> None:
        if request_id:
            store.record_request(tx, request_id, method, incident_id, ",".join(unit_ids), now)


async def _load_all(tx: WriteTx, unit_ids: list[str]) -> dict[str, Unit]:
    """Every unit named, or NotFound naming those that do not exist."""
    found = await store.load_units(tx.conn, unit_ids)
    missing = [u for u in unit_ids if u not in found]
    if missing:
        raise NotFound(", ".join(name_of("units", u) for u in missing))
    return found


def _reason_violations(reason: str) -> list[Violation]:
    if len(reason) > MAX_REASON:
        return [Violation("reason", f"at most {MAX_REASON} characters")]
    return []
