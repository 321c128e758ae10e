"""The incidents service's reads: incidents, their chronology and audit, the types, and the
watch (as changes or as EIDO documents)."""

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol, TypeVar

from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents import convert
from icc_incidents.api.base import MAX_PAGE, ApiBase, check_visible, full, tag
from icc_incidents.domain.model import IncidentFilter
from icc_kernel.errors import InvalidInput, NotFound, Violation, raise_if_any
from icc_kernel.vocabulary import Agency
from icc_rpc import Context
from icc_rpc.authz import scope
from icc_rpc.convert import (
    AGENCY,
    INCIDENT_STATE,
    PRIORITY,
    decode_page_token,
    optional_time,
    page_of,
    page_size,
)

# The kinds of page token this service hands out (the watch's cursors: watch.py).
LIST_INCIDENTS = "ListIncidents"
LIST_CHRONOLOGY = "ListChronology"
LIST_AUDIT = "ListAuditRecords"


def _incidents_after(page_token: str, flt: IncidentFilter) -> tuple[datetime, str] | None:
    """Where the previous page of this listing ended (None for the first page)."""
    if not page_token:
        return None
    page = decode_page_token(page_token, LIST_INCIDENTS, scope=flt)
    try:
        return datetime.fromisoformat(page.text(0)), page.text(1)
    except ValueError as exc:  # a token the service signed holds a time; checked all the same
        raise InvalidInput.one("page_token", "not one from a previous response") from exc


class _Numbered(Protocol):
    @property
    def sequence(self) -> int: ...


_N = TypeVar("_N", bound=_Numbered)


async def _numbered_page(
    kind: str,
    parent: str,
    page_token: str,
    size: int,
    fetch: Callable[[str, int, int], Awaitable[list[_N]]],
) -> tuple[list[_N], str]:
    """One page of an incident's numbered records (chronology, audit): up to `size` of
    them after the sequence number the token holds, and the next page's token ("" when
    none follow). `fetch(parent, limit, after)` reads them oldest first."""
    after = 0
    if page_token:
        after = decode_page_token(page_token, kind, scope=parent).number(0)
    found = await fetch(parent, size + 1, after)
    return page_of(found, size, kind, lambda n: (n.sequence,), scope=parent)


def _filter(request: pb.ListIncidentsRequest, out: list[Violation]) -> IncidentFilter:
    after = optional_time(request.create_time, "start_time", "create_time.start_time", out)
    before = optional_time(request.create_time, "end_time", "create_time.end_time", out)
    if after and before and after >= before:
        out.append(Violation("create_time", "start_time must be before end_time"))
    return IncidentFilter(
        tuple(INCIDENT_STATE.from_protos(request.states, "states", out)),
        AGENCY.from_proto(request.agency, "agency", out),
        tuple(PRIORITY.from_protos(request.priorities, "priorities", out)),
        after,
        before,
    )


class Reads(ApiBase):
    async def GetIncident(
        self, request: pb.GetIncidentRequest, context: Context
    ) -> pb.GetIncidentResponse:
        tag(request.name)
        incident = await self._service.get(request.name)
        check_visible(scope(), incident)
        return pb.GetIncidentResponse(incident=await self._answer(incident))

    async def ListIncidents(
        self, request: pb.ListIncidentsRequest, context: Context
    ) -> pb.ListIncidentsResponse:
        out: list[Violation] = []
        flt = _filter(request, out)
        size = page_size(request.page_size, default=50, most=MAX_PAGE, out=out)
        raise_if_any(out)
        s = scope()
        flt = replace(flt, involving=s.agency, drills=s.exercises)
        after = _incidents_after(request.page_token, flt)
        found = await self._service.list_incidents(flt, size + 1, after)
        found, token = page_of(
            found, size, LIST_INCIDENTS, lambda i: (i.create_time.isoformat(), i.id), scope=flt
        )
        answers = [full(i) for i in found]
        await self._answering(*answers)
        return pb.ListIncidentsResponse(incidents=answers, next_page_token=token)

    async def ListChronology(
        self, request: pb.ListChronologyRequest, context: Context
    ) -> pb.ListChronologyResponse:
        tag(request.parent)
        out: list[Violation] = []
        size = page_size(request.page_size, default=100, most=MAX_PAGE, out=out)
        raise_if_any(out)
        await self._visible(request.parent)
        entries, token = await _numbered_page(
            LIST_CHRONOLOGY, request.parent, request.page_token, size, self._service.chronology
        )
        return pb.ListChronologyResponse(
            entries=[convert.chronology_to_proto(e) for e in entries], next_page_token=token
        )

    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: Context
    ) -> pb.ListAuditRecordsResponse:
        tag(request.parent)
        out: list[Violation] = []
        size = page_size(request.page_size, default=100, most=MAX_PAGE, out=out)
        raise_if_any(out)
        records, token = await _numbered_page(
            LIST_AUDIT, request.parent, request.page_token, size, self._service.audit
        )
        return pb.ListAuditRecordsResponse(
            records=[convert.audit_to_proto(r) for r in records], next_page_token=token
        )

    async def ListIncidentTypes(
        self, request: pb.ListIncidentTypesRequest, context: Context
    ) -> pb.ListIncidentTypesResponse:
        out: list[Violation] = []
        agency = AGENCY.from_proto(request.agency, "agency", out)
        raise_if_any(out)
        return pb.ListIncidentTypesResponse(
            types=[convert.type_to_proto(t) for t in self._catalog.all(agency)]
        )

    async def WatchIncidents(
        self, request: pb.WatchIncidentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        out: list[Violation] = []
        agencies = set(AGENCY.from_protos(request.agencies, "agencies", out))
        raise_if_any(out)
        # The headers tell the caller the watch is live (nothing published later is missed).
        subscribed = functools.partial(context.send_initial_metadata, ())
        if request.eido:
            async for item in self.eido_stream(request.cursor, subscribed, agencies):
                yield item
            return
        async for item in self._watch.stream(request.cursor, agencies, subscribed, scope()):
            yield item

    async def eido_stream(
        self, cursor: str, subscribed: Callable[[], Awaitable[None]], agencies: set[Agency]
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        """The watch as EIDO documents, in the current call's scope (gRPC, WebSocket)."""
        s = scope()
        async for item in self._watch.stream(cursor, agencies, subscribed, s):
            action = item.WhichOneof("event") or ""
            name = getattr(item, action).incident.name
            try:
                incident = await self._service.get(name)
            except NotFound:
                continue  # gone since (never, today: incidents are not deleted)
            document = await self._exchange.export(incident, personal_data=s.personal_data)
            # Each document holds the persons and notes the incident would show this caller.
            await self._answering(full(incident))
            yield pb.WatchIncidentsResponse(
                cursor=item.cursor,
                eido_document=json.dumps(document, ensure_ascii=False),
                eido_action=action,
            )
