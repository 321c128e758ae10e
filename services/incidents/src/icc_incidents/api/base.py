"""What every RPC of the incidents service shares: the services it calls, the scope rules
(what a call may see and create) and the audit of the personal data it answers with."""

from dataclasses import replace

from opentelemetry import trace

from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents import convert
from icc_incidents.calltaking import CallTaking
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import Incident
from icc_incidents.places import PlaceSearch
from icc_incidents.service import IncidentService
from icc_incidents.transfers import EidoExchange
from icc_incidents.watch import IncidentWatch
from icc_kernel.errors import Forbidden
from icc_kernel.names import id_of
from icc_kernel.principals import Kind, Scope
from icc_kernel.vocabulary import CallLine
from icc_rpc.authz import scope
from icc_telemetry import INCIDENT_ID

MAX_PAGE = 500


def tag(name: str) -> None:
    """The call's span names the incident (its name's id)."""
    incident_id = name.partition("/")[2]
    if incident_id:
        trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)


def full(incident: Incident) -> incident_pb2.Incident:
    """An incident as this call's caller may see it: caller and notes only with the right
    to personal data (call-takers and up at the center, partner dispatchers)."""
    return convert.incident_to_proto(incident, personal_data=scope().personal_data)


def _unrestricted(s: Scope) -> bool:
    """Every incident is visible to the call: no agency's limits, drills included."""
    return s.agency is None and s.exercises


def check_visible(s: Scope, incident: Incident) -> None:
    """Forbidden unless the call's scope sees the incident."""
    if s.sees_incident(incident.involved, incident.exercise):
        return
    who = s.principal.describe()
    if incident.exercise and not s.exercises:
        raise Forbidden(f"{incident.name} is a drill, and {who} takes no part in exercises")
    agency = s.agency.name if s.agency else "its agency"
    raise Forbidden(f"{incident.name}: {agency} is not involved in it, so {who} may not")


class ApiBase(pb_grpc.IncidentServiceServicer):
    """The services every room of `IncidentApi` calls, and the rules each applies."""

    def __init__(
        self,
        service: IncidentService,
        catalog: Catalog,
        watch: IncidentWatch,
        calls: CallTaking,
        places: PlaceSearch,
        exchange: EidoExchange,
    ) -> None:
        self._exchange = exchange
        self._service = service
        self._catalog = catalog
        self._watch = watch
        self._calls = calls
        self._places = places

    async def _answering(self, *answers: incident_pb2.Incident) -> None:
        """Records the personal data these answers hold, before they are sent: an
        answer whose record cannot be written is not given."""
        seen = [(id_of(a.name), f) for a in answers if (f := convert.personal_fields(a))]
        if seen:
            await self._service.record_reads(seen, scope().principal.actor())

    async def _answer(self, incident: Incident) -> incident_pb2.Incident:
        """The incident as this call's caller may see it (`full`), the personal data it
        holds recorded first (`_answering`)."""
        answer = full(incident)
        await self._answering(answer)
        return answer

    async def _visible(self, name: str) -> None:
        """Forbidden unless the call may see the incident (read first for partners only)."""
        s = scope()
        if not _unrestricted(s):
            check_visible(s, await self._service.get(name))

    def _may_create(self, draft: Draft) -> Draft:
        """A partner creates only incidents its agency is involved in (as given or as
        the type's default), on the partner line unless it says; drills only by those
        taking part in exercises."""
        s = scope()
        if draft.exercise and not s.exercises:
            raise Forbidden(f"{s.principal.describe()} takes no part in exercises")
        if s.agency is None:
            return draft
        kind = self._catalog.get(draft.type_code) if draft.type_code else None
        agencies = draft.agencies or (kind.agencies if kind else ())
        if agencies and s.agency not in agencies:
            raise Forbidden(
                f"{s.principal.describe()} may create only incidents {s.agency.name} is "
                "involved in: add it to agencies"
            )
        if s.principal.kind is Kind.PARTNER and draft.call_line is None:
            return replace(draft, call_line=CallLine.PARTNER)
        return draft
