"""Public warnings: supervisors issue, update and cancel them; everyone at the center reads
them (drills too); each change is a CAP 1.2 message. The public's side, outside the API
and without a session, is `public_router`: an Atom feed of real warnings and their CAP
messages, never a drill's, and the hospitals' availability shaped after EDXL-HAVE.
"""

from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response

from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_gateway import cap, have
from icc_gateway import schemas_warnings as ws
from icc_gateway.context import Cached
from icc_gateway.errors import ApiError, not_found
from icc_gateway.public_warnings import KNOWN_WARDS
from icc_gateway.routes.deps import AnyId, Ctx, Supervisor, Viewer, api_router, creates
from icc_gateway.schemas import ErrorField
from icc_kernel.clock import utc_now
from icc_kernel.errors import ConcurrentChange, IllegalTransition, InvalidInput, NotFound

router = api_router("warnings")
public_router = APIRouter(prefix="/public", include_in_schema=False)
Result = TypeVar("Result")
# Polled by the public and other agencies: the hospitals read at most this often.
HOSPITALS_TTL_S = 15.0


async def _answer(call: Awaitable[Result]) -> Result:
    """The warnings' rules as the API's errors."""
    try:
        return await call
    except InvalidInput as exc:
        fields = [ErrorField(field=v.field, description=v.description) for v in exc.violations]
        raise ApiError.invalid(fields, status=422) from exc
    except (IllegalTransition, ConcurrentChange) as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except NotFound as exc:
        raise not_found(str(exc)) from exc


@creates(router, "/warnings", ws.WarningResponse)
async def issue_warning(
    body: ws.NewWarningRequest, you: Supervisor, response: Response
) -> ws.WarningResponse:
    """Issues a public warning (supervisors): its first CAP message (Alert)."""
    warning, created = await _answer(
        you.gw.warnings.issue(
            body.draft(body.exercise), warning_id=body.request_id, by=you.user.username
        )
    )
    if not created:
        response.status_code = 200
    return ws.WarningResponse(warning=ws.warning_out(warning))


@router.get("/warnings", response_model=ws.Warnings)
async def list_warnings(you: Viewer) -> ws.Warnings:
    found = await you.gw.warnings.listed(drills=True)
    return ws.Warnings(warnings=[ws.warning_out(w) for w in found])


# Not under /warnings/: a path there would also be "/warnings/{id}" (PUT), as OPTIONS says.
@router.get("/warning-wards", response_model=ws.Wards)
async def warning_wards(you: Viewer) -> ws.Wards:
    """The wards and communes a warning's area may name (the screen offers them)."""
    return ws.Wards(wards=sorted(KNOWN_WARDS))


@router.get("/warnings/{id}", response_model=ws.WarningResponse)
async def get_warning(warning_id: AnyId, you: Viewer) -> ws.WarningResponse:
    warning = await _answer(you.gw.warnings.get(warning_id))
    return ws.WarningResponse(warning=ws.warning_out(warning))


@router.put("/warnings/{id}", response_model=ws.WarningResponse)
async def update_warning(
    warning_id: AnyId, body: ws.WarningRequest, you: Supervisor
) -> ws.WarningResponse:
    """Replaces what a warning says (supervisors): a CAP Update referencing the earlier
    messages. A drill stays a drill."""
    known = await _answer(you.gw.warnings.get(warning_id))
    warning = await _answer(you.gw.warnings.update(warning_id, body.draft(known.draft.exercise)))
    return ws.WarningResponse(warning=ws.warning_out(warning))


@router.post("/warnings/{id}/cancel", response_model=ws.WarningResponse)
async def cancel_warning(warning_id: AnyId, you: Supervisor) -> ws.WarningResponse:
    """Cancels a warning (supervisors): a CAP Cancel referencing the earlier messages."""
    warning = await _answer(you.gw.warnings.cancel(warning_id))
    return ws.WarningResponse(warning=ws.warning_out(warning))


@router.get(
    "/warnings/{id}/cap",
    response_class=Response,
    responses={200: {"content": {cap.CAP_MEDIA_TYPE: {}}, "description": "CAP 1.2 XML"}},
)
async def warning_cap(warning_id: AnyId, you: Viewer) -> Response:
    """The warning's current CAP message, as published (drills too)."""
    document = await _answer(you.gw.warnings.message(warning_id, drills=True))
    return Response(document, media_type=cap.CAP_MEDIA_TYPE)


@public_router.get("/warnings.atom")
async def public_feed(request: Request, gw: Ctx) -> Response:
    """Real, unexpired warnings for the public and other agencies to poll."""
    base = str(request.base_url).rstrip("/")
    return Response(
        await gw.warnings.feed(base),
        media_type=cap.ATOM_MEDIA_TYPE,
        headers={"Cache-Control": "public, max-age=30"},
    )


@public_router.get("/warnings/{id}.cap")
async def public_message(warning_id: AnyId, gw: Ctx) -> Response:
    document = await _answer(gw.warnings.message(warning_id, drills=False))
    return Response(document, media_type=cap.CAP_MEDIA_TYPE)


@public_router.get("/hospitals.json")
async def public_hospitals(gw: Ctx) -> dict[str, Any]:
    """Each hospital's beds by kind and its emergency department's status for ambulances
    (diversion), shaped after EDXL-HAVE; read as the gateway itself."""

    async def load() -> dict[str, Any]:
        request = resource_pb.ListHospitalsRequest()
        reply = await gw.services.call("resources", gw.services.resources.ListHospitals, request)
        return have.have_document(list(reply.hospitals), utc_now())

    if "have" not in gw.caches:
        gw.caches["have"] = Cached(load, ttl_s=HOSPITALS_TTL_S)
    document: dict[str, Any] = await gw.caches["have"].get()
    return document
