"""Recovery: reservations and releases that a crash or an outage interrupted are finished
with their own request ids, so nothing happens twice."""

import logging
from datetime import datetime

from icc_dispatch.domain.errors import UnitsUnavailable
from icc_dispatch.use_cases.ports import Records
from icc_dispatch.use_cases.releases import Releases
from icc_dispatch.use_cases.reservations import Reservations

log = logging.getLogger(__name__)


async def reconcile(
    records: Records,
    reservations: Reservations,
    releases: Releases,
    in_flight: set[str],
    cutoff: datetime,
) -> None:
    """Finishes the reservations and releases recorded before `cutoff` (a younger one is
    still its caller's to finish), but the reservations `in_flight` here."""
    async with records.read() as reads:
        proposed, releasing = await reads.unfinished()
    settle = {
        (a.incident_id, a.request_id)
        for a in proposed
        if a.request_id not in in_flight and a.create_time <= cutoff
    }
    for incident_id, rid in sorted(settle):
        try:
            await reservations.settle(incident_id, rid)
        except UnitsUnavailable:
            pass
        except Exception as exc:
            log.warning(
                "settling a reservation failed; will retry", extra={"error": type(exc).__name__}
            )
    # A young release is its caller's to make (and to mark, a moment later).
    await releases.free_at_resources(
        a for a in releasing if a.release_time is not None and a.release_time <= cutoff
    )
