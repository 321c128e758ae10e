"""The common operating picture: as one answer, as a stream of changes, and its KPIs."""

import time
from typing import Annotated

from fastapi import Header, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from icc_gateway import schemas
from icc_gateway.domain.kpi_model import ExerciseFilter, Kpis
from icc_gateway.routes.deps import Viewer, api_router, loaded

router = api_router("picture")


@router.get(
    "/picture",
    response_model=schemas.Picture,
    responses={200: {"content": {"application/json": {}}}},
)
async def picture(you: Viewer) -> Response:
    """Open incidents, every unit and hospital, at `cursor`."""
    loaded(you.gw)
    # The same JSON as the SSE snapshot, made once per cursor for every screen.
    return Response(you.gw.hub.snapshot_json(), media_type="application/json")


def _cursor(value: str | None) -> int | None:
    """The picture's cursor a screen last saw (SSE `Last-Event-ID`); None for anything
    else, which gets a snapshot. ASCII digits only: `isdigit()` also takes "²", which
    `int()` does not."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


@router.get(
    "/picture/stream",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`snapshot` (a Picture) or the missed `change`s, then `change`s",
        }
    },
)
async def picture_stream(
    request: Request,
    you: Viewer,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id_query: Annotated[
        str | None, Query(alias="last_event_id", description="For clients without the header")
    ] = None,
) -> Response:
    """Server-Sent Events: the picture, then every change. Resumes after `Last-Event-ID`."""
    gw = you.gw
    loaded(gw)
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


@router.get("/kpis", response_model=Kpis)
async def kpis(
    you: Viewer,
    exercise: Annotated[
        ExerciseFilter,
        Query(description="Drills (exercise incidents): counted with the rest, left out, or alone"),
    ] = "include",
) -> Kpis:
    """Response-time KPIs of the incidents created in the last hour (`window_s`), live."""
    loaded(you.gw)
    picture = you.gw.picture
    return picture.kpis.compute(time.time(), picture.incidents.values(), picture.units(), exercise)
