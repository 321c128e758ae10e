"""Escalation: an assigned unit that has not acknowledged in time is released (and not
offered to the incident again), and the loop sends the next best."""

import functools
import logging
from datetime import datetime, timedelta

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.events import AssignmentEscalated
from icc_dispatch.domain.model import SYSTEM, Assignment
from icc_dispatch.use_cases.ports import Records, Writes
from icc_dispatch.use_cases.releases import Releases
from icc_dispatch.use_cases.underway import Underway
from icc_kernel.reasons import Reason, ReasonCode

log = logging.getLogger(__name__)


async def escalate_overdue(
    records: Records, releases: Releases, underway: Underway, ack_within: timedelta, now: datetime
) -> int:
    """Escalates every assignment whose acknowledgement is late at `now`; returns how many."""
    async with records.read() as reads:
        due = await reads.overdue(now)
    escalated = []
    for a in due:
        freed = await records.write(functools.partial(_escalate, a=a, now=now, within=ack_within))
        if freed is not None:
            escalated.append(freed)
    if escalated:
        log.info("assignments escalated", extra={"count": len(escalated)})
        await releases.free_at_resources(escalated)
        underway.wake.set()
    return len(escalated)


async def _escalate(
    writes: Writes, a: Assignment, now: datetime, within: timedelta
) -> Assignment | None:
    current = await writes.load_assignment(a.id)
    if not lifecycle.overdue(current, now):
        return None
    reason = Reason.of(ReasonCode.NOT_ACKNOWLEDGED_IN_TIME, seconds=int(within.total_seconds()))
    freed = lifecycle.release(current, now, reason, tell_resources=True, vacated=True)
    await writes.save_assignments([freed])
    await writes.exclude_unit(a.incident_id, a.unit_id)
    writes.announce([AssignmentEscalated(assignment=freed, reason=reason, actor=SYSTEM, time=now)])
    return freed
