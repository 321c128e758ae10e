"""Assignment states: PROPOSED -> ASSIGNED -> ACKNOWLEDGED -> RELEASED, and escalation.

A proposal is recorded before the units are reserved, so that a crash between
the reservation and its record is finished on restart with the same request id
rather than done twice.
"""

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from icc_dispatch.domain.errors import IllegalTransition
from icc_dispatch.domain.model import Assignment, AssignmentState, UnitStatus
from icc_kernel.reasons import Reason, ReasonCode

S = AssignmentState


def confirm(a: Assignment, now: datetime, ack_within: timedelta) -> Assignment:
    """The reservation succeeded: the unit is assigned and its acknowledgement timer runs."""
    if a.state is not S.PROPOSED:
        return a
    return replace(a, state=S.ASSIGNED, assign_time=now, ack_deadline=now + ack_within)


def with_unit_version(a: Assignment, version: int) -> Assignment:
    return replace(a, unit_version=version)


def reserved(
    current: Sequence[Assignment], versions: Mapping[str, int], now: datetime, ack_within: timedelta
) -> tuple[list[Assignment], list[Assignment], list[Assignment]]:
    """A reservation's assignments once the resources service said yes: each proposal is
    assigned (with its unit's version there); one released while being reserved (its
    incident ended) is to be freed there too, as the resources service now holds its unit.
    Returns them all, those changed, and those newly assigned."""
    confirmed, changed, fresh = [], [], []
    for a in current:
        if a.state is S.RELEASED and a.assign_time is None:
            a = replace(a, release_pending=True)
            changed.append(a)
        elif a.state is S.PROPOSED:
            a = with_unit_version(confirm(a, now, ack_within), versions.get(a.unit_id, 0))
            changed.append(a)
            fresh.append(a)
        confirmed.append(a)
    return confirmed, changed, fresh


def acknowledge(a: Assignment, now: datetime) -> Assignment:
    if a.state is S.ACKNOWLEDGED:
        return a
    if a.state is S.RELEASED:
        why = f" ({a.release_reason})" if a.release_reason else ""
        raise IllegalTransition(f"{a.name} was released{why}; it can no longer be acknowledged")
    if a.state is S.PROPOSED:
        raise IllegalTransition(f"{a.name} is still being reserved; acknowledge it once assigned")
    return replace(a, state=S.ACKNOWLEDGED, ack_time=now)


def release(
    a: Assignment, now: datetime, reason: Reason, *, tell_resources: bool, vacated: bool = False
) -> Assignment:
    """`tell_resources`: the unit is still held there and must be freed (recorded first).
    `vacated`: the unit did not serve, so its role must be filled again."""
    if a.state is S.RELEASED:
        return a
    return replace(
        a,
        state=S.RELEASED,
        release_time=now,
        release=reason,
        release_pending=tell_resources and a.state is not S.PROPOSED,
        vacated=vacated,
    )


def overdue(a: Assignment, now: datetime) -> bool:
    return a.state is S.ASSIGNED and a.ack_deadline is not None and a.ack_deadline <= now


# Statuses that show a unit is on its way to (or at) its incident.
RESPONDING = frozenset(
    {UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL}
)


def on_unit_news(
    a: Assignment, status: UnitStatus, incident_id: str | None, version: int, now: datetime
) -> Assignment | None:
    """What a unit's status report means for its active assignment; None for nothing.

    On its way or on scene: acknowledged (if not yet). Available, out of service or
    held for another incident: released by the field, not by dispatch; vacated
    (the role needs another unit) unless the unit had acknowledged and served.
    News older than the reservation says nothing.
    """
    if a.state is S.PROPOSED or version <= a.unit_version:
        return None
    if incident_id == a.incident_id:
        if status in RESPONDING and a.state is S.ASSIGNED:
            return acknowledge(a, now)
        if status in RESPONDING or status is UnitStatus.DISPATCHED:
            return None
    vacated = status is UnitStatus.OUT_OF_SERVICE or a.state is S.ASSIGNED
    reason = Reason.of(ReasonCode.UNIT_REPORTED_STATUS, status=status)
    return release(a, now, reason, tell_resources=False, vacated=vacated)
