"""The assignment lifecycle: proposed, assigned, acknowledged, released, escalated."""

from datetime import timedelta

import pytest

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.errors import IllegalTransition
from icc_dispatch.domain.model import (
    AssignmentState,
)
from icc_kernel.reasons import Reason, ReasonCode

from .conftest import (
    NOON,
    assignment,
)

LATE = Reason.of(ReasonCode.NOT_ACKNOWLEDGED_IN_TIME, seconds=60)
BY_HAND = Reason(ReasonCode.RELEASED_BY_DISPATCHER)


def test_confirm_assigns_with_deadline() -> None:
    a = assignment("engine", AssignmentState.PROPOSED)
    done = lifecycle.confirm(a, NOON, timedelta(seconds=90))
    assert done.state is AssignmentState.ASSIGNED
    assert done.assign_time == NOON
    assert done.ack_deadline == NOON + timedelta(seconds=90)
    # Confirming again changes nothing.
    assert lifecycle.confirm(done, NOON + timedelta(minutes=5), timedelta(seconds=90)) == done


def test_acknowledge_is_idempotent() -> None:
    a = lifecycle.confirm(
        assignment("engine", AssignmentState.PROPOSED), NOON, timedelta(seconds=60)
    )
    ack = lifecycle.acknowledge(a, NOON + timedelta(seconds=30))
    assert ack.state is AssignmentState.ACKNOWLEDGED
    assert ack.ack_time == NOON + timedelta(seconds=30)
    again = lifecycle.acknowledge(ack, NOON + timedelta(seconds=45))
    assert again == ack
    assert again.ack_time == NOON + timedelta(seconds=30)


def test_acknowledge_after_release_or_before_assignment_is_illegal() -> None:
    a = assignment("engine", AssignmentState.ASSIGNED, id="a7")
    gone = lifecycle.release(a, NOON, LATE, tell_resources=True)
    with pytest.raises(IllegalTransition) as err:
        lifecycle.acknowledge(gone, NOON)
    msg = str(err.value)
    assert "assignments/a7" in msg
    assert "released" in msg
    assert "not acknowledged within 60 s" in msg
    with pytest.raises(IllegalTransition, match="still being reserved"):
        lifecycle.acknowledge(assignment("engine", AssignmentState.PROPOSED), NOON)


def test_release() -> None:
    proposed = assignment("engine", AssignmentState.PROPOSED)
    r = lifecycle.release(proposed, NOON, LATE, tell_resources=True, vacated=True)
    assert r.state is AssignmentState.RELEASED
    assert r.release_pending is False
    assert r.vacated and not r.fills_role
    assert r.release_time == NOON and r.release == LATE
    assert r.release_reason == "not acknowledged within 60 s; the next best unit is sent"

    assigned = assignment("engine", AssignmentState.ASSIGNED)
    r2 = lifecycle.release(assigned, NOON, BY_HAND, tell_resources=True)
    assert r2.release_pending is True
    assert not r2.vacated and r2.fills_role and not r2.active
    r3 = lifecycle.release(assigned, NOON, BY_HAND, tell_resources=False)
    assert r3.release_pending is False
    # Releasing twice keeps the first release.
    assert lifecycle.release(r2, NOON + timedelta(hours=1), LATE, tell_resources=False) == r2


def test_overdue_only_when_assigned_past_deadline() -> None:
    a = lifecycle.confirm(
        assignment("engine", AssignmentState.PROPOSED), NOON, timedelta(seconds=60)
    )
    deadline = NOON + timedelta(seconds=60)
    assert not lifecycle.overdue(a, NOON + timedelta(seconds=59))
    assert lifecycle.overdue(a, deadline)
    assert lifecycle.overdue(a, deadline + timedelta(seconds=1))
    ack = lifecycle.acknowledge(a, NOON + timedelta(seconds=10))
    assert not lifecycle.overdue(ack, deadline + timedelta(hours=1))
    gone = lifecycle.release(a, NOON, BY_HAND, tell_resources=False)
    assert not lifecycle.overdue(gone, deadline + timedelta(hours=1))
    proposed = assignment("engine", AssignmentState.PROPOSED)
    assert not lifecycle.overdue(proposed, deadline + timedelta(hours=1))


def test_with_unit_version() -> None:
    a = assignment("engine")
    assert lifecycle.with_unit_version(a, 12).unit_version == 12
