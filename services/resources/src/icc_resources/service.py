"""Use cases of the resources service: validate, change, record, announce."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, select

from icc_resources import store
from icc_resources.convert import hospital_event, unit_status_event
from icc_resources.domain import lifecycle
from icc_resources.domain.errors import (
    InvalidInput,
    NotFound,
    StaleEtag,
    UnitsUnavailable,
    Violation,
)
from icc_resources.domain.model import (
    Actor,
    Agency,
    Capacity,
    Diversion,
    Hospital,
    Station,
    Unit,
    UnitKind,
    UnitStatus,
)
from icc_storage import Database, WriteBatcher, WriteTx, add_events

MAX_UNITS_PER_REQUEST = 50
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def utc_now() -> datetime:
    return datetime.now(UTC)


# Every reservation and release looks its request up first: built once (see `store._SAVE_UNIT`).
_REQUEST = select(store.requests).where(store.requests.c.request_id == bindparam("request_id"))


@dataclass(frozen=True)
class UnitFilter:
    agency: Agency | None = None
    statuses: tuple[UnitStatus, ...] = ()
    kinds: tuple[UnitKind, ...] = ()
    home_station: str | None = None


def check_request_id(request_id: str, out: list[Violation]) -> None:
    if request_id and not _REQUEST_ID.match(request_id):
        out.append(Violation("request_id", "1-64 letters, digits and . _ : -"))


@dataclass
class ResourceService:
    db: Database
    batcher: WriteBatcher
    clock: Callable[[], datetime] = utc_now
    # Units as last read, by id: every change bumps the version, so a row whose
    # version matches is the same unit and need not be rebuilt (ListUnits of a
    # 5,000-unit fleet spent most of its time building objects).
    _units: dict[str, Unit] = field(default_factory=dict)

    # Reads

    async def list_units(self, flt: UnitFilter, limit: int, after: str) -> list[Unit]:
        t = store.units
        query = select(t).where(t.c.id > after).order_by(t.c.id).limit(limit)
        if flt.agency is not None:
            query = query.where(t.c.agency == int(flt.agency))
        if flt.statuses:
            query = query.where(t.c.status.in_([int(s) for s in flt.statuses]))
        if flt.kinds:
            query = query.where(t.c.kind.in_([int(k) for k in flt.kinds]))
        if flt.home_station:
            query = query.where(t.c.home_station == flt.home_station)
        async with self.db.read() as conn:
            return [self._unit(r) for r in await conn.execute(query)]

    def _unit(self, row: Any) -> Unit:
        cached = self._units.get(row.id)
        if cached is not None and cached.version == row.version:
            return cached
        unit = store.unit_from(row)
        self._units[row.id] = unit
        return unit

    async def get_unit(self, unit_id: str) -> Unit:
        async with self.db.read() as conn:
            return await store.load_unit(conn, unit_id)

    async def list_stations(self, agency: Agency | None) -> list[Station]:
        query = select(store.stations).order_by(store.stations.c.id)
        if agency is not None:
            query = query.where(store.stations.c.agency == int(agency))
        async with self.db.read() as conn:
            return [store.station_from(r) for r in await conn.execute(query)]

    async def list_hospitals(self) -> list[Hospital]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(store.hospitals).order_by(store.hospitals.c.id))
            return [store.hospital_from(r) for r in rows]

    async def unit_ids(self) -> set[str]:
        async with self.db.read() as conn:
            return set((await conn.execute(select(store.units.c.id))).scalars())

    # Writes

    async def update_status(
        self, unit_id: str, status: UnitStatus, etag: str, reason: str, actor: Actor
    ) -> Unit:
        if len(reason) > 500:
            raise InvalidInput([Violation("reason", "at most 500 characters")])

        async def work(tx: WriteTx) -> Unit:
            now = self.clock()
            unit = await store.load_unit(tx.conn, unit_id)
            changed = lifecycle.change_status(unit, status, expected_etag=etag, now=now)
            if not await store.save_unit(tx.conn, changed, expected_version=unit.version):
                raise StaleEtag(unit.name, etag or unit.etag, "a newer version")
            detail = f"{unit.status.name} -> {status.name}" + (f": {reason}" if reason else "")
            self._history(tx, changed.name, now, actor, "status_changed", detail)
            add_events(
                tx, store.outbox, [unit_status_event(changed, unit.status, reason, actor, now)]
            )
            return changed

        return await self.batcher.submit(work)

    async def reserve(
        self, incident_id: str, unit_ids: list[str], request_id: str, actor: Actor
    ) -> list[Unit]:
        """All or nothing: every unit is reserved for the incident, or none is."""
        self._check_units(unit_ids)
        out: list[Violation] = []
        check_request_id(request_id, out)
        if out:
            raise InvalidInput(out)

        async def work(tx: WriteTx) -> list[Unit]:
            now = self.clock()
            if request_id and await self._answered(
                tx, request_id, "reserve", incident_id, unit_ids
            ):
                return list((await store.load_units(tx.conn, unit_ids)).values())
            taken = await store.reserve_units(tx.conn, unit_ids, incident_id, now)
            # Judge by the rows as they are after the update, never by an earlier
            # read: on PostgreSQL another replica may have taken a unit in between,
            # and the conditional update then left it alone.
            after = await store.load_units(tx.conn, unit_ids)
            missing = [u for u in unit_ids if u not in after]
            if missing:
                raise NotFound(", ".join(f"units/{u}" for u in missing))
            reasons = {
                f"units/{u}": why
                for u in unit_ids
                if (why := lifecycle.unavailable_reason(after[u], incident_id)) is not None
            }
            if reasons:
                # Raising rolls the whole transaction back: the units this call did
                # change are free again, so the loser holds nothing.
                raise UnitsUnavailable(reasons)
            self._remember(tx, request_id, "reserve", incident_id, unit_ids, now)
            # Exactly the rows this statement changed were AVAILABLE and are now ours.
            for u in unit_ids:
                if u in taken:
                    self._announce_unit(
                        tx,
                        after[u],
                        UnitStatus.AVAILABLE,
                        f"reserved for incidents/{incident_id}",
                        actor,
                        now,
                    )
            return [after[u] for u in unit_ids]

        return await self.batcher.submit(work)

    async def release(
        self, incident_id: str, unit_ids: list[str], request_id: str, reason: str, actor: Actor
    ) -> list[Unit]:
        self._check_units(unit_ids)
        out: list[Violation] = []
        check_request_id(request_id, out)
        if len(reason) > 500:
            out.append(Violation("reason", "at most 500 characters"))
        if out:
            raise InvalidInput(out)

        async def work(tx: WriteTx) -> list[Unit]:
            now = self.clock()
            if request_id and await self._answered(
                tx, request_id, "release", incident_id, unit_ids
            ):
                return list((await store.load_units(tx.conn, unit_ids)).values())
            found = await store.load_units(tx.conn, unit_ids)
            missing = [u for u in unit_ids if u not in found]
            if missing:
                raise NotFound(", ".join(f"units/{u}" for u in missing))
            reasons = {}
            for u in unit_ids:
                unit = found[u]
                if unit.incident_id is None and unit.status is UnitStatus.AVAILABLE:
                    continue  # released already
                why = lifecycle.release_reason(unit, incident_id)
                if why:
                    reasons[f"units/{u}"] = why
            if reasons:
                raise UnitsUnavailable(reasons)
            result = []
            for u in unit_ids:
                unit = found[u]
                if unit.incident_id is None:
                    result.append(unit)
                    continue
                freed = lifecycle.release(unit, now)
                if not await store.save_unit(tx.conn, freed, expected_version=unit.version):
                    raise StaleEtag(unit.name, unit.etag, "a newer version")
                why = f"released from incidents/{incident_id}" + (f": {reason}" if reason else "")
                self._announce_unit(tx, freed, unit.status, why, actor, now)
                result.append(freed)
            self._remember(tx, request_id, "release", incident_id, unit_ids, now)
            return result

        return await self.batcher.submit(work)

    async def update_capacity(
        self, hospital_id: str, available: Capacity, diversion: Diversion, etag: str, actor: Actor
    ) -> Hospital:
        out = [
            Violation(f"hospital.available.{k}", "must be between 0 and 10000")
            for k, v in available.fields().items()
            if not 0 <= v <= 10_000
        ]
        if out:
            raise InvalidInput(out)

        async def work(tx: WriteTx) -> Hospital:
            now = self.clock()
            row = (
                await tx.conn.execute(
                    select(store.hospitals).where(store.hospitals.c.id == hospital_id)
                )
            ).first()
            if row is None:
                raise NotFound(f"hospitals/{hospital_id}")
            hospital = store.hospital_from(row)
            if etag and etag != hospital.etag:
                raise StaleEtag(hospital.name, etag, hospital.etag)
            changed = replace(
                hospital,
                available=available,
                diversion=diversion,
                update_time=now,
                version=hospital.version + 1,
            )
            result = await tx.conn.execute(
                store.hospitals.update()
                .where(
                    and_(
                        store.hospitals.c.id == hospital_id,
                        store.hospitals.c.version == hospital.version,
                    )
                )
                .values(**store.hospital_row(changed))
            )
            if result.rowcount != 1:
                raise StaleEtag(hospital.name, etag or hospital.etag, "a newer version")
            self._history(
                tx, changed.name, now, actor, "capacity_changed", f"diversion {diversion.name}"
            )
            add_events(tx, store.outbox, [hospital_event(changed, actor, now)])
            return changed

        return await self.batcher.submit(work)

    # Helpers

    def _check_units(self, unit_ids: list[str]) -> None:
        out: list[Violation] = []
        if not unit_ids:
            out.append(Violation("units", "name at least one unit"))
        if len(unit_ids) > MAX_UNITS_PER_REQUEST:
            out.append(Violation("units", f"at most {MAX_UNITS_PER_REQUEST} units per request"))
        if len(set(unit_ids)) != len(unit_ids):
            out.append(Violation("units", "a unit is named twice"))
        if out:
            raise InvalidInput(out)

    async def _answered(
        self, tx: WriteTx, request_id: str, method: str, incident_id: str, unit_ids: list[str]
    ) -> bool:
        row = (await tx.conn.execute(_REQUEST, {"request_id": request_id})).first()
        if row is None:
            return False
        same = (row.method, row.incident_id, row.unit_ids) == (
            method,
            incident_id,
            ",".join(unit_ids),
        )
        if not same:
            raise InvalidInput([Violation("request_id", "already used for a different request")])
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
            tx.add(
                store.requests,
                [
                    {
                        "request_id": request_id,
                        "method": method,
                        "incident_id": incident_id,
                        "unit_ids": ",".join(unit_ids),
                        "create_time": now,
                    }
                ],
            )

    def _announce_unit(
        self,
        tx: WriteTx,
        unit: Unit,
        previous: UnitStatus,
        reason: str,
        actor: Actor,
        now: datetime,
    ) -> None:
        self._history(
            tx,
            unit.name,
            now,
            actor,
            "status_changed",
            f"{previous.name} -> {unit.status.name}: {reason}",
        )
        add_events(tx, store.outbox, [unit_status_event(unit, previous, reason, actor, now)])

    def _history(
        self, tx: WriteTx, subject: str, now: datetime, actor: Actor, action: str, detail: str
    ) -> None:
        store.record(tx, subject, now, actor.user, int(actor.agency), action, detail)
