"""An incident's timeline of traces, for supervisors (from the trace sink)."""

from typing import Annotated

from fastapi import Query

from icc_gateway import schemas
from icc_gateway.routes.deps import IncidentId, Supervisor, api_router, tag
from icc_telemetry import INCIDENT_ID

router = api_router("traces")


@router.get("/incidents/{id}/trace", response_model=schemas.Trace)
async def incident_trace(
    incident_id: IncidentId,
    you: Supervisor,
    reads: Annotated[
        bool, Query(description="Also the screen's own reads of the incident (`reads` step)")
    ] = False,
) -> schemas.Trace:
    """The incident's spans grouped by the steps of its life, from the trace sink (503
    without one)."""
    tag(INCIDENT_ID, incident_id)
    return await you.gw.traces.waterfall(incident_id, reads=reads)
