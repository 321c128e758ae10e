"""An incident's traces as a waterfall, for supervisors (from the trace sink)."""

from icc_gateway import schemas
from icc_gateway.routes.deps import IncidentId, Supervisor, api_router, tag
from icc_telemetry import INCIDENT_ID

router = api_router("traces")


@router.get("/incidents/{id}/trace", response_model=schemas.Trace)
async def incident_trace(incident_id: IncidentId, you: Supervisor) -> schemas.Trace:
    """Every span of the incident's traces, from the trace sink (503 without one)."""
    tag(INCIDENT_ID, incident_id)
    return await you.gw.traces.waterfall(incident_id)
