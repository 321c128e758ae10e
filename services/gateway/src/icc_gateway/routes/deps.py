"""What every route depends on: the gateway, the session and role, ids in paths, and the
calls to the services made as the signed-in user."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Depends, Path, Request
from fastapi.types import DecoratedCallable
from opentelemetry import trace
from pydantic import BaseModel

from icc_gateway import schemas
from icc_gateway.clients import Services
from icc_gateway.context import Gateway
from icc_gateway.domain.roles import Role, User
from icc_gateway.errors import permission_denied, unauthenticated, unavailable
from icc_gateway.fields import ID_PATTERN
from icc_kernel.names import MAX_ID, MAX_INCIDENT_ID, name_of
from icc_kernel.vocabulary import Agency
from icc_pki.assertion import Person
from icc_rpc import DEFAULT_TIMEOUT_S
from icc_telemetry import INCIDENT_ID

COOKIE = "icc_session"
Reply = TypeVar("Reply")

# The errors every route may answer (OpenAPI).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorResponse, "description": what}
    for status, what in (
        (400, "The request breaks this document's rules (`fields` names each problem)"),
        (401, "Not signed in"),
        (403, "The role does not allow it"),
        (404, "Not found"),
        (409, "Conflict: stale etag, illegal transition, unit already taken"),
        (
            422,
            "The request keeps this document's rules, but a service refused what it asks "
            "for a reason the document cannot say (a point outside the city's outline, a "
            "unit not recommended without `override_reason`): `fields` names each",
        ),
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


def api_router(tag: str) -> APIRouter:
    """The routes of one resource, under `/api/v1` (declared with the prefix, so that a
    route's path, which names its span, is the whole path)."""
    return APIRouter(
        prefix="/api/v1", tags=[tag], dependencies=[Depends(name_span)], responses=ERRORS
    )


def creates(
    router: APIRouter, path: str, model: type[BaseModel]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A POST that creates, once per `request_id`: 201 with what it made, or 200 with the
    same when that request_id came before (the route sets `response.status_code`)."""
    return router.post(
        path,
        status_code=201,
        response_model=model,
        responses={200: {"model": model, "description": "Same request_id"}},
    )


def tag(attribute: str, value: str) -> None:
    """An attribute of the request's span (ids only: never personal data)."""
    trace.get_current_span().set_attribute(attribute, value)


def loaded(gw: Gateway) -> None:
    if not gw.feed.loaded.is_set():
        raise unavailable("The picture is still loading from the services; try again shortly.")


async def signed_in(request: Request, gw: Ctx) -> User:
    token = request.cookies.get(COOKIE)
    if not token:
        raise unauthenticated("Sign in first.")
    user = await gw.accounts.user_for(token)
    if user is None:
        raise unauthenticated("Your session has ended; sign in again.")
    return user


@dataclass(frozen=True)
class Acting:
    """The gateway acting for the signed-in user: each call to a service carries who they
    are (the services' chronology records them) and fails as the API's error."""

    gw: Gateway
    user: User

    @property
    def services(self) -> Services:
        return self.gw.services

    @property
    def who(self) -> Person:
        return Person(self.user.username, Agency[self.user.agency], self.user.role)

    async def call(
        self,
        service: str,
        method: Callable[..., Awaitable[Reply]],
        request: Any,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Reply:
        return await self.services.call(service, method, request, self.who, timeout_s)


def role_at_least(role: Role) -> Callable[[User, Gateway], Awaitable[Acting]]:
    async def check(user: Annotated[User, Depends(signed_in)], gw: Ctx) -> Acting:
        if not user.role.includes(role):
            raise permission_denied(
                f"Your role ({user.role.value}) cannot do this; it needs {role.value} or above."
            )
        return Acting(gw, user)

    return check


Viewer = Annotated[Acting, Depends(role_at_least(Role.VIEWER))]
CallTaker = Annotated[Acting, Depends(role_at_least(Role.CALL_TAKER))]
Dispatcher = Annotated[Acting, Depends(role_at_least(Role.DISPATCHER))]
Supervisor = Annotated[Acting, Depends(role_at_least(Role.SUPERVISOR))]


def _id_in_path(description: str | None = None, longest: int = MAX_ID) -> Any:
    return Path(alias="id", pattern=ID_PATTERN, max_length=longest, description=description)


IncidentId = Annotated[str, _id_in_path("Incident id (bare)", MAX_INCIDENT_ID)]
AnyId = Annotated[str, _id_in_path()]


def incident_name(incident_id: str) -> str:
    """`incidents/{id}`, the incident's id on the request's span."""
    tag(INCIDENT_ID, incident_id)
    return name_of("incidents", incident_id)
