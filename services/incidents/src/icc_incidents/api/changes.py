"""The incidents service's changes: create, update, note, merge, close, cancel."""

from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents import convert
from icc_incidents.api.base import ApiBase, full, tag
from icc_kernel.errors import Forbidden, Violation, raise_if_any
from icc_kernel.names import id_of
from icc_rpc import Context
from icc_rpc.authz import actor_of, scope

# Fields only the command center changes: who is involved, and whether it is a drill.
_CENTER_FIELDS = ("agencies", "exercise")


class Changes(ApiBase):
    async def CreateIncident(
        self, request: pb.CreateIncidentRequest, context: Context
    ) -> pb.CreateIncidentResponse:
        out: list[Violation] = []
        draft = convert.draft_from_proto(request.incident, out)
        raise_if_any(out)
        draft = self._may_create(draft)
        incident, replayed = await self._service.create(
            draft, request.request_id, actor_of(context)
        )
        tag(incident.name)
        answer = full(incident)
        if replayed:  # a new incident's answer holds only what the caller just sent
            await self._answering(answer)
        return pb.CreateIncidentResponse(incident=answer, replayed=replayed)

    async def UpdateIncident(
        self, request: pb.UpdateIncidentRequest, context: Context
    ) -> pb.UpdateIncidentResponse:
        tag(request.incident.name)
        out: list[Violation] = []
        patch = convert.draft_from_proto(request.incident, out)
        raise_if_any(out)
        await self._visible(request.incident.name)
        paths = set(request.update_mask.paths)
        if not scope().principal.center and paths.intersection(_CENTER_FIELDS):
            raise Forbidden("only the command center changes an incident's agencies or drill flag")
        incident = await self._service.update(
            request.incident.name,
            patch,
            list(request.update_mask.paths),
            request.incident.etag,
            actor_of(context),
        )
        return pb.UpdateIncidentResponse(incident=await self._answer(incident))

    async def AddNote(self, request: pb.AddNoteRequest, context: Context) -> pb.AddNoteResponse:
        tag(request.parent)
        await self._visible(request.parent)
        note = await self._service.add_note(request.parent, request.text, actor_of(context))
        return pb.AddNoteResponse(note=convert.note_to_proto(id_of(request.parent), note))

    async def MergeIncidents(
        self, request: pb.MergeIncidentsRequest, context: Context
    ) -> pb.MergeIncidentsResponse:
        tag(request.name)
        for name in (request.name, *request.duplicates):
            await self._visible(name)
        survivor, merged = await self._service.merge(
            request.name, list(request.duplicates), request.reason, actor_of(context)
        )
        answer, duplicates = full(survivor), [full(i) for i in merged]
        await self._answering(answer, *duplicates)
        return pb.MergeIncidentsResponse(incident=answer, duplicates=duplicates)

    async def CloseIncident(
        self, request: pb.CloseIncidentRequest, context: Context
    ) -> pb.CloseIncidentResponse:
        tag(request.name)
        await self._visible(request.name)
        closed = await self._service.close(
            request.name, request.resolution, request.etag, actor_of(context)
        )
        return pb.CloseIncidentResponse(incident=await self._answer(closed))

    async def CancelIncident(
        self, request: pb.CancelIncidentRequest, context: Context
    ) -> pb.CancelIncidentResponse:
        tag(request.name)
        await self._visible(request.name)
        cancelled = await self._service.cancel(
            request.name, request.reason, request.etag, actor_of(context)
        )
        return pb.CancelIncidentResponse(incident=await self._answer(cancelled))
