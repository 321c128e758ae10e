"""The dispatch service's RecommendUnits over a synthetic fleet of N units, in its own process.

`python -m bench.recommend_server --units N --port P --db PATH`: the real gRPC
server, API, service, fleet index, travel model and SQLite store; only the fleet
is made up (N units at random stations around the city) and nothing is reserved,
so no bus and no resources service are needed.
"""

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from icc_dispatch.api import DOMAIN_ERRORS, SERVICE_NAME, DispatchApi, register, to_rpc_error
from icc_dispatch.domain.eta import TravelModel
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    Agency,
    FleetUnit,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.main import load_plans
from icc_dispatch.service import DispatchService
from icc_dispatch.store import metadata, upsert_incident
from icc_rpc import GrpcServer, start_server
from icc_rpc.runtime import run_service
from icc_storage import Database, WriteBatcher, WriteTx

# Incidents the driver asks about: types with plans of every agency, at random spots.
INCIDENT_TYPES = [
    "FIRE.STRUCTURE",
    "MEDICAL.CARDIAC_ARREST",
    "POLICE.ROBBERY",
    "TRAFFIC.COLLISION_INJURY",
]
INCIDENTS = 200
_KINDS = {
    Agency.FIRE: [UnitKind.ENGINE] * 4 + [UnitKind.LADDER, UnitKind.RESCUE, UnitKind.WATER_TENDER],
    Agency.MEDICAL: [UnitKind.AMBULANCE_ALS] * 2
    + [UnitKind.AMBULANCE_BLS, UnitKind.MOTORBIKE_RESPONDER],
    Agency.POLICE: [UnitKind.PATROL_CAR, UnitKind.POLICE_MOTORBIKE, UnitKind.TRAFFIC_MOTORBIKE],
}


def spot(rng: random.Random) -> Point:
    # The dense part of the city, where most calls and most units are.
    return Point(rng.uniform(10.70, 10.90), rng.uniform(106.58, 106.82))


def synthetic_fleet(units: int, rng: random.Random) -> Fleet:
    stations = [(f"S{i:04d}", spot(rng)) for i in range(max(10, units // 6))]
    fleet = Fleet()
    for i in range(units):
        agency = rng.choice(list(_KINDS))
        station, home = rng.choice(stations)
        on_road = rng.random() < 0.5
        fleet.put(
            FleetUnit(
                id=f"U{i:06d}",
                call_sign=f"U{i}",
                agency=agency,
                kind=rng.choice(_KINDS[agency]),
                status=UnitStatus.AVAILABLE if rng.random() < 0.8 else UnitStatus.ON_SCENE,
                home_station=station,
                home=home,
                position=spot(rng) if on_road else None,
                version=1,
            )
        )
    return fleet


@dataclass
class Running:
    server: GrpcServer
    batcher: WriteBatcher
    db: Database

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop(grace_s=1)
        await self.batcher.stop()
        await self.db.dispose()


async def start(units: int, port: int, db_path: str) -> Running:
    rng = random.Random(units)
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    async with db.write() as conn:
        await conn.run_sync(metadata.create_all)
    batcher = WriteBatcher(db)
    batcher.start()
    now = datetime.now(UTC)
    for i in range(INCIDENTS):
        view = IncidentView(
            id=f"bench{i:04d}",
            type_code=INCIDENT_TYPES[i % len(INCIDENT_TYPES)],
            priority=Priority.P1,
            location=spot(rng),
            phase=IncidentPhase.OPEN,
            create_time=now,
            version=1,
            auto=False,
        )

        async def add(tx: WriteTx, v: IncidentView = view) -> None:
            await upsert_incident(tx.conn, v, attention=False, trace_context="{}")

        await batcher.submit(add)

    async def never(*_args: object) -> dict[str, int]:
        raise RuntimeError("the recommendation benchmark reserves nothing")

    service = DispatchService(
        db=db,
        batcher=batcher,
        plans=load_plans(),
        fleet=synthetic_fleet(units, rng),
        eta=TravelModel(),
        reserve_units=never,
        release_units=never,  # type: ignore[arg-type]
        refresh_units=never,  # type: ignore[arg-type]
        list_hospitals=never,  # type: ignore[arg-type]
    )
    server = await start_server(
        f"127.0.0.1:{port}",
        register(DispatchApi(service)),
        [SERVICE_NAME],
        # The ranking's cost on its own, beside a gRPC echo: plaintext like the echo (the
        # cost of mutual TLS and authorization is measured by `incidents-plain`).
        tls=None,
        domain_errors=DOMAIN_ERRORS,
        translate=to_rpc_error,
    )
    return Running(server, batcher, db)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    # As a service runs: telemetry set up the same way, uvloop, stop on SIGTERM.
    run_service("dispatch-bench", lambda: start(args.units, args.port, args.db), "--port")


if __name__ == "__main__":
    main()
