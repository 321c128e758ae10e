"""The HTTP API of API.md: each call checks the session and role, then maps onto the
services' gRPC (never their databases), acting as the signed-in user."""

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from opentelemetry import trace
from sse_starlette import EventSourceResponse, ServerSentEvent

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_gateway import convert, schemas
from icc_gateway.clients import Identity
from icc_gateway.context import Cached, Gateway
from icc_gateway.domain.kpi_model import Kpis
from icc_gateway.domain.roles import Role, User, may_see_personal_data
from icc_gateway.errors import permission_denied, unauthenticated, unavailable
from icc_kernel.names import MAX_ID, id_of
from icc_telemetry import INCIDENT_ID, UNIT_ID

COOKIE = "icc_session"

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorResponse, "description": what}
    for status, what in (
        (400, "Invalid request (`fields` names each problem)"),
        (401, "Not signed in"),
        (403, "The role does not allow it"),
        (404, "Not found"),
        (409, "Conflict: stale etag, illegal transition, unit already taken"),
        (503, "A service is down: try again in a moment"),
    )
}


def gateway(request: Request) -> Gateway:
    return cast(Gateway, request.app.state.gateway)


Ctx = Annotated[Gateway, Depends(gateway)]


async def name_span(request: Request) -> None:
    """Names the HTTP server span by its route (low cardinality: `{id}`, not the id)."""
    route = request.scope.get("route")
    span = trace.get_current_span()
    path = getattr(route, "path", None)
    if path and span.is_recording():
        span.update_name(f"{request.method} {path}")
        span.set_attribute("http.route", path)


async def signed_in(request: Request, gw: Ctx) -> User:
    token = request.cookies.get(COOKIE)
    if not token:
        raise unauthenticated("Sign in first.")
    user = await gw.accounts.user_for(token)
    if user is None:
        raise unauthenticated("Your session has ended; sign in again.")
    return user


def role_at_least(role: Role) -> Callable[[User], Awaitable[User]]:
    async def check(user: Annotated[User, Depends(signed_in)]) -> User:
        if not user.role.includes(role):
            raise permission_denied(
                f"Your role ({user.role.value}) cannot do this; it needs {role.value} or above."
            )
        return user

    return check


Viewer = Annotated[User, Depends(signed_in)]
CallTaker = Annotated[User, Depends(role_at_least(Role.CALL_TAKER))]
Dispatcher = Annotated[User, Depends(role_at_least(Role.DISPATCHER))]
Supervisor = Annotated[User, Depends(role_at_least(Role.SUPERVISOR))]
IncidentId = Annotated[
    str,
    Path(
        alias="id",
        pattern=schemas.ID_PATTERN,
        max_length=MAX_ID,
        description="Incident id (bare)",
    ),
]
AnyId = Annotated[str, Path(alias="id", pattern=schemas.ID_PATTERN, max_length=MAX_ID)]


def who(user: User) -> Identity:
    return Identity(user.username, user.agency, user.role.value)


def _tag(attribute: str, value: str) -> None:
    trace.get_current_span().set_attribute(attribute, value)


def _detail(user: User, incident: incident_pb2.Incident) -> schemas.IncidentResponse:
    allowed = may_see_personal_data(user.role, convert.is_open(incident))
    return schemas.IncidentResponse(
        incident=convert.incident_detail(incident, personal_data=allowed)
    )


router = APIRouter(prefix="/api/v1", dependencies=[Depends(name_span)], responses=ERRORS)


# Accounts


@router.post("/session", response_model=schemas.SessionResponse, tags=["accounts"])
async def login(body: schemas.LoginRequest, response: Response, gw: Ctx) -> schemas.SessionResponse:
    """Signs in: sets the HttpOnly session cookie `icc_session`."""
    found = await gw.accounts.login(body.username, body.password)
    if found is None:
        raise unauthenticated("Wrong username or password.")
    user, token = found
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(gw.accounts.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=gw.config.cookie_secure,
    )
    return schemas.SessionResponse(user=user)


@router.get("/session", response_model=schemas.SessionResponse, tags=["accounts"])
async def session(user: Viewer) -> schemas.SessionResponse:
    return schemas.SessionResponse(user=user)


@router.delete("/session", status_code=204, tags=["accounts"])
async def logout(request: Request, gw: Ctx) -> Response:
    await gw.accounts.logout(request.cookies.get(COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# Reference data


def _cached(gw: Gateway, key: str, load: Callable[[], Awaitable[Any]]) -> Cached:
    if key not in gw.caches:
        gw.caches[key] = Cached(load)
    return gw.caches[key]


@router.get("/incident-types", response_model=schemas.IncidentTypes, tags=["reference"])
async def incident_types(user: Viewer, gw: Ctx) -> schemas.IncidentTypes:
    async def load() -> schemas.IncidentTypes:
        reply = await gw.services.call(
            "incidents",
            gw.services.incidents.ListIncidentTypes,
            incident_pb.ListIncidentTypesRequest(),
            who(user),
        )
        return schemas.IncidentTypes(types=[convert.incident_type(t) for t in reply.types])

    value: schemas.IncidentTypes = await _cached(gw, "types", load).get()
    return value


@router.get("/map", tags=["reference"])
async def city_map(user: Viewer, gw: Ctx) -> dict[str, Any]:
    """GeoJSON: the city outline (`kind: city`) and the Saigon river (`kind: river`)."""
    return gw.map


@router.get("/stations", response_model=schemas.Stations, tags=["reference"])
async def stations(user: Viewer, gw: Ctx) -> schemas.Stations:
    async def load() -> schemas.Stations:
        reply = await gw.services.call(
            "resources",
            gw.services.resources.ListStations,
            resource_pb.ListStationsRequest(),
            who(user),
        )
        return schemas.Stations(stations=[convert.station(s) for s in reply.stations])

    value: schemas.Stations = await _cached(gw, "stations", load).get()
    return value


# The picture


def _loaded(gw: Gateway) -> None:
    if not gw.feed.loaded.is_set():
        raise unavailable("The picture is still loading from the services; try again shortly.")


@router.get(
    "/picture",
    response_model=schemas.Picture,
    tags=["picture"],
    responses={200: {"content": {"application/json": {}}}},
)
async def picture(user: Viewer, gw: Ctx) -> Response:
    """Open incidents, every unit and hospital, at `cursor`."""
    _loaded(gw)
    # The same JSON as the SSE snapshot, made once per cursor for every screen.
    return Response(gw.hub.snapshot_json(), media_type="application/json")


def _cursor(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


@router.get(
    "/picture/stream",
    tags=["picture"],
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`snapshot` (a Picture) or the missed `change`s, then `change`s",
        }
    },
)
async def picture_stream(
    request: Request,
    user: Viewer,
    gw: Ctx,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[
        str | None, Query(alias="last_event_id", description="For clients without the header")
    ] = None,
) -> Response:
    """Server-Sent Events: the picture, then every change. Resumes after `Last-Event-ID`."""
    _loaded(gw)
    if request.method == "HEAD":
        # No stream would ever be read: do not register a screen for it.
        return Response(media_type="text/event-stream")
    settings = gw.config.picture
    screen, first = gw.hub.connect(_cursor(last_event_id or last_event_id_query))
    return EventSourceResponse(
        gw.hub.frames(screen, first),
        ping=settings.keepalive_s,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive", sep="\n"),
        sep="\n",
        send_timeout=settings.send_timeout_s,
    )


@router.get("/kpis", response_model=Kpis, tags=["picture"])
async def kpis(
    user: Viewer,
    gw: Ctx,
    exercise: Annotated[
        Literal["include", "exclude", "only"],
        Query(description="Drills (exercise incidents): counted with the rest, left out, or alone"),
    ] = "include",
) -> Kpis:
    """Response-time KPIs of the incidents created in the last hour (`window_s`), live."""
    _loaded(gw)
    picture = gw.picture
    return picture.kpis.compute(time.time(), picture.incidents.values(), picture.units(), exercise)


# Incidents


def _incident_name(incident_id: str) -> str:
    _tag(INCIDENT_ID, incident_id)
    return f"incidents/{incident_id}"


@router.post(
    "/incidents",
    status_code=201,
    response_model=schemas.IncidentResponse,
    tags=["incidents"],
    responses={200: {"model": schemas.IncidentResponse, "description": "Same request_id"}},
)
async def create_incident(
    body: schemas.CreateIncidentRequest, user: CallTaker, gw: Ctx, response: Response
) -> schemas.IncidentResponse:
    incident = incident_pb2.Incident(
        type_code=body.type_code,
        priority=convert.request_priority(body.priority),
        location=common_pb2.Location(
            lat=body.lat, lon=body.lon, address=body.address, ward=body.ward
        ),
        description=body.description,
        exercise=body.exercise,
    )
    if body.caller is not None:
        incident.caller.CopyFrom(
            incident_pb2.Caller(
                name=body.caller.name, phone=body.caller.phone, language=body.caller.language
            )
        )
    reply = await gw.services.call(
        "incidents",
        gw.services.incidents.CreateIncident,
        incident_pb.CreateIncidentRequest(request_id=body.request_id, incident=incident),
        who(user),
    )
    _tag(INCIDENT_ID, id_of(reply.incident.name))
    if reply.replayed:
        response.status_code = 200
    return _detail(user, reply.incident)


@router.get("/incidents/{id}", response_model=schemas.IncidentResponse, tags=["incidents"])
async def get_incident(incident_id: IncidentId, user: Viewer, gw: Ctx) -> schemas.IncidentResponse:
    reply = await gw.services.call(
        "incidents",
        gw.services.incidents.GetIncident,
        incident_pb.GetIncidentRequest(name=_incident_name(incident_id)),
        who(user),
    )
    return _detail(user, reply.incident)


@router.get("/incidents/{id}/chronology", response_model=schemas.Chronology, tags=["incidents"])
async def chronology(incident_id: IncidentId, user: Viewer, gw: Ctx) -> schemas.Chronology:
    name = _incident_name(incident_id)
    entries: list[schemas.ChronologyEntry] = []
    token = ""
    for _ in range(20):  # at most 10,000 entries
        reply = await gw.services.call(
            "incidents",
            gw.services.incidents.ListChronology,
            incident_pb.ListChronologyRequest(parent=name, page_size=500, page_token=token),
            who(user),
        )
        entries.extend(convert.chronology_entry(e) for e in reply.entries)
        token = reply.next_page_token
        if not token:
            break
    return schemas.Chronology(entries=entries)


@router.post(
    "/incidents/{id}/notes",
    status_code=201,
    response_model=schemas.NoteResponse,
    tags=["incidents"],
)
async def add_note(
    incident_id: IncidentId, body: schemas.NoteRequest, user: CallTaker, gw: Ctx
) -> schemas.NoteResponse:
    reply = await gw.services.call(
        "incidents",
        gw.services.incidents.AddNote,
        incident_pb.AddNoteRequest(parent=_incident_name(incident_id), text=body.text),
        who(user),
    )
    return schemas.NoteResponse(note=convert.note(reply.note))


@router.post("/incidents/{id}/close", response_model=schemas.IncidentResponse, tags=["incidents"])
async def close_incident(
    incident_id: IncidentId, body: schemas.CloseRequest, user: Dispatcher, gw: Ctx
) -> schemas.IncidentResponse:
    reply = await gw.services.call(
        "incidents",
        gw.services.incidents.CloseIncident,
        incident_pb.CloseIncidentRequest(
            name=_incident_name(incident_id), etag=body.etag or "", resolution=body.resolution
        ),
        who(user),
    )
    return _detail(user, reply.incident)


@router.post("/incidents/{id}/cancel", response_model=schemas.IncidentResponse, tags=["incidents"])
async def cancel_incident(
    incident_id: IncidentId, body: schemas.CancelRequest, user: Dispatcher, gw: Ctx
) -> schemas.IncidentResponse:
    reply = await gw.services.call(
        "incidents",
        gw.services.incidents.CancelIncident,
        incident_pb.CancelIncidentRequest(
            name=_incident_name(incident_id), etag=body.etag or "", reason=body.reason
        ),
        who(user),
    )
    return _detail(user, reply.incident)


# Dispatch


@router.get("/incidents/{id}/dispatch", response_model=schemas.DispatchStatus, tags=["dispatch"])
async def dispatch_status(incident_id: IncidentId, user: Viewer, gw: Ctx) -> schemas.DispatchStatus:
    reply = await gw.services.call(
        "dispatch",
        gw.services.dispatch.GetDispatchStatus,
        dispatch_pb.GetDispatchStatusRequest(incident=_incident_name(incident_id)),
        who(user),
    )
    return convert.dispatch_status(reply.status)


@router.get(
    "/incidents/{id}/recommendation",
    response_model=schemas.Recommendation,
    tags=["dispatch"],
)
async def recommendation(incident_id: IncidentId, user: Viewer, gw: Ctx) -> schemas.Recommendation:
    reply = await gw.services.call(
        "dispatch",
        gw.services.dispatch.RecommendUnits,
        dispatch_pb.RecommendUnitsRequest(incident=_incident_name(incident_id)),
        who(user),
        timeout_s=10.0,
    )
    return convert.recommendation(reply.recommendation)


@router.post(
    "/incidents/{id}/assign", response_model=schemas.AssignmentsResponse, tags=["dispatch"]
)
async def assign(
    incident_id: IncidentId, body: schemas.AssignRequest, user: Dispatcher, gw: Ctx
) -> schemas.AssignmentsResponse:
    """All or nothing. A unit that was not recommended needs `override_reason`."""
    reply = await gw.services.call(
        "dispatch",
        gw.services.dispatch.AssignUnits,
        dispatch_pb.AssignUnitsRequest(
            incident=_incident_name(incident_id),
            units=[f"units/{u}" for u in body.units],
            # Without one, a retried click could assign twice; the screen should send one.
            request_id=body.request_id or uuid.uuid4().hex,
            override_reason=body.override_reason,
        ),
        who(user),
        timeout_s=10.0,
    )
    return schemas.AssignmentsResponse(
        assignments=[convert.assignment(a) for a in reply.assignments]
    )


@router.post(
    "/incidents/{id}/release", response_model=schemas.AssignmentsResponse, tags=["dispatch"]
)
async def release(
    incident_id: IncidentId, body: schemas.ReleaseRequest, user: Dispatcher, gw: Ctx
) -> schemas.AssignmentsResponse:
    """Frees the named units (none named: every unit of the incident)."""
    reply = await gw.services.call(
        "dispatch",
        gw.services.dispatch.ReleaseUnits,
        dispatch_pb.ReleaseUnitsRequest(
            incident=_incident_name(incident_id),
            units=[f"units/{u}" for u in body.units],
            reason=body.reason,
        ),
        who(user),
        timeout_s=10.0,
    )
    return schemas.AssignmentsResponse(
        assignments=[convert.assignment(a) for a in reply.assignments]
    )


@router.post(
    "/assignments/{id}/acknowledge",
    response_model=schemas.AssignmentResponse,
    tags=["dispatch"],
)
async def acknowledge(
    assignment_id: AnyId, user: Dispatcher, gw: Ctx
) -> schemas.AssignmentResponse:
    reply = await gw.services.call(
        "dispatch",
        gw.services.dispatch.AcknowledgeAssignment,
        dispatch_pb.AcknowledgeAssignmentRequest(name=f"assignments/{assignment_id}"),
        who(user),
    )
    if reply.assignment.incident:
        _tag(INCIDENT_ID, id_of(reply.assignment.incident))
    return schemas.AssignmentResponse(assignment=convert.assignment(reply.assignment))


@router.post("/units/{id}/status", response_model=schemas.UnitResponse, tags=["dispatch"])
async def unit_status(
    unit_id: AnyId, body: schemas.UnitStatusRequest, user: Dispatcher, gw: Ctx
) -> schemas.UnitResponse:
    _tag(UNIT_ID, unit_id)
    reply = await gw.services.call(
        "resources",
        gw.services.resources.UpdateUnitStatus,
        resource_pb.UpdateUnitStatusRequest(
            name=f"units/{unit_id}",
            status=convert.unit_status_value(body.status),
            reason=body.reason,
        ),
        who(user),
    )
    return schemas.UnitResponse(unit=convert.unit_item(reply.unit))


# Traces


@router.get("/incidents/{id}/trace", response_model=schemas.Trace, tags=["traces"])
async def incident_trace(incident_id: IncidentId, user: Supervisor, gw: Ctx) -> schemas.Trace:
    """Every span of the incident's traces, from the trace sink (503 without one)."""
    _tag(INCIDENT_ID, incident_id)
    return await gw.traces.waterfall(incident_id)
