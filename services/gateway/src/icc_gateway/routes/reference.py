"""Reference data any role reads: the incident types, the stations, the city map."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_gateway import convert, schemas
from icc_gateway.context import Cached
from icc_gateway.routes.deps import Acting, Viewer, api_router

router = api_router("reference")
Value = TypeVar("Value")


async def _cached(you: Acting, key: str, load: Callable[[Acting], Awaitable[Value]]) -> Value:
    """`load`'s answer, read from the services at most once per `Cached.ttl_s` for every
    screen (the first reader's session reads it)."""
    caches = you.gw.caches
    if key not in caches:
        caches[key] = Cached(lambda: load(you))
    value: Value = await caches[key].get()
    return value


async def _stations(you: Acting) -> schemas.Stations:
    request = resource_pb.ListStationsRequest()
    reply = await you.call("resources", you.services.resources.ListStations, request)
    return schemas.Stations(stations=[convert.station(s) for s in reply.stations])


@router.get("/incident-types", response_model=schemas.IncidentTypes)
async def incident_types(you: Viewer) -> schemas.IncidentTypes:
    """The incident types' catalog (the gateway's copy, catalog.py)."""
    return await you.gw.catalog.get()


@router.get("/map")
async def city_map(you: Viewer) -> dict[str, Any]:
    """GeoJSON: the city outline (`kind: city`) and the Saigon river (`kind: river`)."""
    return you.gw.map


@router.get("/stations", response_model=schemas.Stations)
async def stations(you: Viewer) -> schemas.Stations:
    return await _cached(you, "stations", _stations)
