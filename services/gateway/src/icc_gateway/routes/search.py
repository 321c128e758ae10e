"""Search over every incident, open or ended: what a dispatcher types (an id, a place, a
type, a call sign) within a time range, newest first, in the picture's form (no caller,
no notes: open one for those)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query

from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_gateway import convert, schemas
from icc_gateway.domain.model import Incident
from icc_gateway.domain.search import Query as Words
from icc_gateway.domain.search import labels_of
from icc_gateway.errors import ApiError
from icc_gateway.routes.deps import Acting, Viewer, api_router

router = api_router("incidents")
# One search reads at most this many incidents of its range (newest first).
_MOST = 5000
_PAGE = 500
_DEFAULT_RANGE = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 1, 1, tzinfo=UTC)
# A whole incident id: looked up directly, whenever it was created.
_WHOLE_ID = re.compile(r"[0-9a-f]{16}")
# ISO 8601 as `datetime.fromisoformat` reads it: a date, a time, maybe a zone.
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
_STATES = {
    "open": convert.OPEN_STATES,
    "ended": convert.ENDED_STATES,
    "all": (),
}


async def _by_id(you: Acting, incident_id: str) -> list[Incident]:
    request = incident_pb.GetIncidentRequest(name=f"incidents/{incident_id}")
    try:
        reply = await you.call("incidents", you.services.incidents.GetIncident, request)
    except ApiError as exc:
        if exc.status == 404:
            return []
        raise
    return [convert.incident_item(reply.incident)]


@router.get("/incidents", response_model=schemas.IncidentList)
async def search_incidents(
    you: Viewer,
    q: Annotated[
        str, Query(max_length=100, description="Words of the id, place, type or a call sign")
    ] = "",
    since: Annotated[
        str | None,
        Query(pattern=_TIME, description="Created at or after (default: 24 hours ago)"),
    ] = None,
    until: Annotated[
        str | None, Query(pattern=_TIME, description="Created before (default: now)")
    ] = None,
    state: Annotated[Literal["open", "ended", "all"], Query()] = "all",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.IncidentList:
    """Incidents created in the range whose id, place, type or units hold every word of
    `q`, newest first; a whole id is found whenever it was created."""
    words = Words.parse(q)
    if len(words.words) == 1 and _WHOLE_ID.fullmatch(words.words[0]):
        found = await _by_id(you, words.words[0])
        return schemas.IncidentList(incidents=found, scanned=len(found), complete=True)
    catalog = await you.gw.catalog.get()
    labels = labels_of({t.code: (t.label_vi, t.label_en) for t in catalog.types})
    end = _time(until, "until") if until else datetime.now(UTC)
    start = _time(since, "since") if since else max(_EPOCH + _DEFAULT_RANGE, end) - _DEFAULT_RANGE
    if start >= end:
        return schemas.IncidentList(incidents=[], scanned=0, complete=True)
    request = incident_pb.ListIncidentsRequest(page_size=_PAGE, states=_STATES[state])
    request.create_time.start_time.FromDatetime(start)
    request.create_time.end_time.FromDatetime(end)
    hits: list[Incident] = []
    scanned = 0
    while scanned < _MOST:
        page = await you.call(
            "incidents", you.services.incidents.ListIncidents, request, timeout_s=15.0
        )
        scanned += len(page.incidents)
        for i in page.incidents:
            item = convert.incident_item(i)
            if words.matches(item, labels):
                hits.append(item)
                if len(hits) == limit:
                    return schemas.IncidentList(incidents=hits, scanned=scanned, complete=True)
        if not page.next_page_token:
            return schemas.IncidentList(incidents=hits, scanned=scanned, complete=True)
        request.page_token = page.next_page_token
    return schemas.IncidentList(incidents=hits, scanned=scanned, complete=False)


def _time(text: str, field: str) -> datetime:
    """An ISO 8601 time of the query (no zone: UTC, as every time of the API); one the
    pattern lets through but the calendar has not (February 30th) is 422 naming it."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        problem = schemas.ErrorField(field=field, description="not a date and time that exists")
        raise ApiError.invalid([problem], status=422) from None
    # Nothing was created before 1970 or will be after 9998: the range stays one a
    # protobuf timestamp holds.
    return min(_LAST, max(_EPOCH, t.replace(tzinfo=UTC) if t.tzinfo is None else t))
