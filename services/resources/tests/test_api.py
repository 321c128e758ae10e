"""The resources service over real gRPC, with a real nats-server and database."""

import asyncio
import collections
from datetime import UTC, datetime, timedelta

import grpc
import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.resource.v1 import events_pb2, resource_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc_resources.main import start
from icc_rpc.errors import field_violations

from .conftest import Service

T = 10.0


async def all_units(svc: Service, **filters: object) -> list[resource_pb2.Unit]:
    units: list[resource_pb2.Unit] = []
    token = ""
    while True:
        page = await svc.stub.ListUnits(pb.ListUnitsRequest(page_token=token, **filters), timeout=T)  # type: ignore[arg-type]
        units.extend(page.units)
        token = page.next_page_token
        if not token:
            return units


def ts(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def report(unit: str, lat: float, lon: float, when: datetime) -> bytes:
    return events_pb2.UnitPositionReported(
        unit=unit, position=resource_pb2.Position(lat=lat, lon=lon, report_time=ts(when))
    ).SerializeToString()


async def test_city_reference_data_is_loaded_once(service: Service) -> None:
    units = await all_units(service)
    assert len(units) >= 300
    by_agency = collections.Counter(u.agency for u in units)
    assert {common_pb2.AGENCY_POLICE, common_pb2.AGENCY_FIRE, common_pb2.AGENCY_MEDICAL} <= set(
        by_agency
    )
    assert all(u.status == resource_pb2.UNIT_STATUS_AVAILABLE for u in units)
    stations = (await service.stub.ListStations(pb.ListStationsRequest(), timeout=T)).stations
    hospitals = (await service.stub.ListHospitals(pb.ListHospitalsRequest(), timeout=T)).hospitals
    assert len(stations) >= 90
    agencies = (await service.stub.ListAgencies(pb.ListAgenciesRequest(), timeout=T)).agencies
    assert {a.emergency_number for a in agencies} == {"113", "114", "115"}
    assert len(hospitals) >= 30
    assert {u.home_station for u in units} <= {s.name for s in stations}

    # A second start on the same database adds nothing and changes nothing.
    target = units[0].name
    await service.stub.UpdateUnitStatus(
        pb.UpdateUnitStatusRequest(name=target, status=resource_pb2.UNIT_STATUS_OUT_OF_SERVICE),
        timeout=T,
    )
    again = await start(service.config)
    try:
        async with service.pki.channel(f"127.0.0.1:{again.port}") as channel:
            from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc

            stub = pb_grpc.ResourceServiceStub(channel)
            second = (await stub.GetUnit(pb.GetUnitRequest(name=target), timeout=T)).unit
            assert second.status == resource_pb2.UNIT_STATUS_OUT_OF_SERVICE
            count = len(
                (await stub.ListUnits(pb.ListUnitsRequest(page_size=5000), timeout=T)).units
            )
            assert count == len(units)
    finally:
        await again.stop()


async def test_status_change_is_announced_and_stale_etag_refused(service: Service) -> None:
    unit = (await all_units(service, kinds=[resource_pb2.UNIT_KIND_ENGINE]))[0]
    changed = (
        await service.stub.UpdateUnitStatus(
            pb.UpdateUnitStatusRequest(
                name=unit.name,
                status=resource_pb2.UNIT_STATUS_OUT_OF_SERVICE,
                etag=unit.etag,
                reason="pump repair",
            ),
            timeout=T,
        )
    ).unit
    assert changed.status == resource_pb2.UNIT_STATUS_OUT_OF_SERVICE
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.UpdateUnitStatus(
            pb.UpdateUnitStatusRequest(
                name=unit.name, status=resource_pb2.UNIT_STATUS_AVAILABLE, etag=unit.etag
            ),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.ABORTED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.UpdateUnitStatus(
            pb.UpdateUnitStatusRequest(name=unit.name, status=resource_pb2.UNIT_STATUS_ON_SCENE),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "OUT_OF_SERVICE" in (err.value.details() or "")

    nc = await nats.connect(service.nats.url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            f"icc.unit.status.{unit.name.split('/')[1]}", stream="ICC_UNIT"
        )
        [msg] = await sub.fetch(1, timeout=5)
        event = events_pb2.UnitStatusChanged.FromString(msg.data)
        assert event.unit.status == resource_pb2.UNIT_STATUS_OUT_OF_SERVICE
        assert event.previous_status == resource_pb2.UNIT_STATUS_AVAILABLE
        assert msg.headers is not None
        assert msg.headers["Icc-Event-Type"] == "icc.resource.v1.UnitStatusChanged"
    finally:
        await nc.close()


async def test_concurrent_overlapping_reservations_have_one_winner_per_unit(
    service: Service,
) -> None:
    pool = [u.name for u in await all_units(service, agency=common_pb2.AGENCY_FIRE)][:20]
    # A second replica on the same database: the guard must be the database's,
    # since each replica's writer only orders its own writes.
    replica = await start(service.config)
    channel = service.pki.channel(f"127.0.0.1:{replica.port}", "dispatch")
    from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc

    stubs = [service.as_("dispatch"), pb_grpc.ResourceServiceStub(channel)]

    async def attempt(n: int) -> tuple[int, list[str] | grpc.aio.AioRpcError]:
        units = [pool[(n + k) % len(pool)] for k in range(3)]  # overlapping windows of 3
        try:
            reply = await stubs[n % 2].ReserveUnits(
                pb.ReserveUnitsRequest(
                    incident=f"incidents/inc{n:02d}", units=units, request_id=f"r{n}"
                ),
                timeout=T,
            )
            return n, [u.name for u in reply.units]
        except grpc.aio.AioRpcError as exc:
            return n, exc

    try:
        results = await asyncio.gather(*(attempt(n) for n in range(50)))
    finally:
        await channel.close()
        await replica.stop()
    holders: dict[str, list[int]] = collections.defaultdict(list)
    for n, outcome in results:
        if isinstance(outcome, grpc.aio.AioRpcError):
            assert outcome.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "units/" in (outcome.details() or "")  # names the units it could not have
        else:
            for name in outcome:
                holders[name].append(n)
    assert holders, "somebody must win"
    assert all(len(winners) == 1 for winners in holders.values())
    # The database agrees: every reserved unit is held by the incident that won it.
    for u in await all_units(service, agency=common_pb2.AGENCY_FIRE):
        if u.name in holders:
            assert u.status == resource_pb2.UNIT_STATUS_DISPATCHED
            assert u.incident == f"incidents/inc{holders[u.name][0]:02d}"
        elif u.name in pool:
            assert u.status == resource_pb2.UNIT_STATUS_AVAILABLE  # losers hold nothing
            assert u.incident == ""


async def test_reserve_and_release_are_idempotent(service: Service) -> None:
    units = [u.name for u in await all_units(service, agency=common_pb2.AGENCY_MEDICAL)][:2]
    request = pb.ReserveUnitsRequest(incident="incidents/cardiac1", units=units, request_id="res-1")
    first = await service.as_("dispatch").ReserveUnits(request, timeout=T)
    again = await service.as_("dispatch").ReserveUnits(request, timeout=T)
    assert [u.etag for u in first.units] == [u.etag for u in again.units]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.as_("dispatch").ReserveUnits(
            pb.ReserveUnitsRequest(incident="incidents/other", units=units[:1], request_id="res-2"),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert units[0] in (err.value.details() or "")
    assert "incidents/cardiac1" in (err.value.details() or "")
    release = pb.ReleaseUnitsRequest(incident="incidents/cardiac1", units=units, request_id="rel-1")
    freed = await service.as_("dispatch").ReleaseUnits(release, timeout=T)
    assert all(
        u.status == resource_pb2.UNIT_STATUS_AVAILABLE and not u.incident for u in freed.units
    )
    await service.as_("dispatch").ReleaseUnits(release, timeout=T)


async def test_positions_on_nats_appear_in_list_units_and_go_stale(service: Service) -> None:
    unit = (await all_units(service))[0]
    nc = await nats.connect(service.nats.url)
    try:
        now = datetime.now(UTC)
        await nc.publish(
            f"icc.unit.position.{unit.name.split('/')[1]}", report(unit.name, 10.78, 106.70, now)
        )
        await nc.flush()
        for _ in range(100):
            got = (await service.stub.GetUnit(pb.GetUnitRequest(name=unit.name), timeout=T)).unit
            if got.HasField("position"):
                break
            await asyncio.sleep(0.05)
        assert got.position.lat == pytest.approx(10.78)
        assert not got.position.stale
        # Older than the last one: dropped, the position stays.
        await nc.publish(
            "icc.unit.position.x", report(unit.name, 10.50, 106.50, now - timedelta(seconds=5))
        )
        # Unknown unit and impossible coordinates: rejected, never stored.
        await nc.publish("icc.unit.position.x", report("units/NO-SUCH-UNIT", 10.7, 106.7, now))
        await nc.publish(
            "icc.unit.position.x", report(unit.name, 95.0, 106.7, now + timedelta(seconds=1))
        )
        await nc.flush()
        await asyncio.sleep(0.3)
        got = (await service.stub.GetUnit(pb.GetUnitRequest(name=unit.name), timeout=T)).unit
        assert got.position.lat == pytest.approx(10.78)
        counts = service.running.avl.counts
        assert sum(c for v, c in counts.items() if v.value == "dropped") == 1
        assert sum(c for v, c in counts.items() if v.value == "rejected") == 2
        assert "NO-SUCH-UNIT" not in service.running.view.positions
        await asyncio.sleep(1.2)  # past the 1 s staleness limit of this test's service
        got = (await service.stub.GetUnit(pb.GetUnitRequest(name=unit.name), timeout=T)).unit
        assert got.position.stale
    finally:
        await nc.close()


async def test_report_position_rpc_and_bad_input(service: Service) -> None:
    unit = (await all_units(service))[1]
    ok = await service.as_("simulator").ReportPosition(
        pb.ReportPositionRequest(
            report=events_pb2.UnitPositionReported.FromString(
                report(unit.name, 10.8, 106.65, datetime.now(UTC))
            )
        ),
        timeout=T,
    )
    assert ok.accepted
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.as_("simulator").ReportPosition(
            pb.ReportPositionRequest(report=events_pb2.UnitPositionReported(unit=unit.name)),
            timeout=T,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "report.position" in [v.field for v in field_violations(err.value)]
    odd = events_pb2.UnitPositionReported.FromString(
        report(unit.name, 10.8, float("nan"), datetime.now(UTC))
    )
    odd.position.heading = float("inf")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.as_("simulator").ReportPosition(
            pb.ReportPositionRequest(report=odd), timeout=T
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(err.value)] == [
        "report.position.lon",
        "report.position.heading",
    ]
    for request, field in [
        (pb.ReserveUnitsRequest(incident="incidents/x", units=[]), "units"),
        (pb.ReserveUnitsRequest(incident="cases/x", units=[unit.name]), "incident"),
        (pb.ReserveUnitsRequest(incident="incidents/x", units=[unit.name, unit.name]), "units"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await service.as_("dispatch").ReserveUnits(request, timeout=T)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in [v.field for v in field_violations(err.value)]


async def test_hospital_capacity(service: Service) -> None:
    hospital = (await service.stub.ListHospitals(pb.ListHospitalsRequest(), timeout=T)).hospitals[0]
    hospital.available.icu = 2
    hospital.diversion = resource_pb2.DIVERSION_STATUS_PARTIAL
    updated = (
        await service.stub.UpdateHospitalCapacity(
            pb.UpdateHospitalCapacityRequest(hospital=hospital), timeout=T
        )
    ).hospital
    assert updated.available.icu == 2
    assert updated.diversion == resource_pb2.DIVERSION_STATUS_PARTIAL
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.UpdateHospitalCapacity(
            pb.UpdateHospitalCapacityRequest(hospital=hospital), timeout=T
        )
    assert err.value.code() == grpc.StatusCode.ABORTED  # the etag was the old one
    updated.available.burn = -1
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await service.stub.UpdateHospitalCapacity(
            pb.UpdateHospitalCapacityRequest(hospital=updated), timeout=T
        )
    assert "hospital.available.burn" in [v.field for v in field_violations(err.value)]
