"""The incidents service's standards: an incident as an EIDO document, and a call
transferred in as one."""

import json
from dataclasses import replace

from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents.api.base import ApiBase, check_visible, full, tag
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.transfers import Imported
from icc_kernel.vocabulary import Agency
from icc_rpc import Context
from icc_rpc.authz import scope


class Standards(ApiBase):
    async def GetIncidentEido(
        self, request: pb.GetIncidentEidoRequest, context: Context
    ) -> pb.GetIncidentEidoResponse:
        tag(request.name)
        incident = await self._service.get(request.name)
        s = scope()
        check_visible(s, incident)
        document = await self._exchange.export(incident, personal_data=s.personal_data)
        # The document holds the persons and notes the incident would show this caller.
        await self._answering(full(incident))
        return pb.GetIncidentEidoResponse(document=json.dumps(document, ensure_ascii=False))

    async def ImportEido(
        self, request: pb.ImportEidoRequest, context: Context
    ) -> pb.ImportEidoResponse:
        imported = await self.import_document(request.document)
        tag(imported.incident.name)
        answer = full(imported.incident)
        if not imported.created:  # a new incident's answer holds only what was sent
            await self._answering(answer)
        return pb.ImportEidoResponse(
            name=imported.incident.name,
            created=imported.created,
            replayed=imported.replayed,
            incident=answer,
        )

    async def import_document(self, text: str) -> Imported:
        """ImportEido in the current call's scope (gRPC, WebSocket)."""
        return await self._exchange.import_document(
            text,
            scope().principal.actor(),
            may_create=self._may_transfer,
            may_change=lambda incident: check_visible(scope(), incident),
        )

    def _may_transfer(self, draft: Draft) -> Draft:
        """A partner transferring a call in is involved in it: its agency joins the
        agencies the document names (or the type's)."""
        s = scope()
        if s.agency is not None and s.agency is not Agency.COMMAND_CENTER:
            kind = self._catalog.get(draft.type_code)
            agencies = draft.agencies or (kind.agencies if kind else ())
            if s.agency not in agencies:
                draft = replace(draft, agencies=(*agencies, s.agency))
        return self._may_create(draft)
