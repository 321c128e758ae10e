"""Pure rules of units: the lifecycle and reservation rules, and AVL verdicts."""

from datetime import UTC, datetime, timedelta

import pytest

from icc_kernel.errors import IllegalTransition, StaleEtag
from icc_kernel.vocabulary import Agency, UnitKind, UnitStatus
from icc_resources.domain import lifecycle
from icc_resources.domain.avl import Verdict, judge, position_violations
from icc_resources.domain.lifecycle import TRANSITIONS
from icc_resources.domain.model import Position, Unit

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
S = UnitStatus


def unit(status: UnitStatus = S.AVAILABLE, incident: str | None = None) -> Unit:
    return Unit("U1", "TD-E1", Agency.FIRE, UnitKind.ENGINE, status, "PCCC-X", (), 4, NOW, incident)


def test_every_status_change_is_allowed_or_refused_with_a_reason() -> None:
    for start in UnitStatus:
        for target in UnitStatus:
            u = unit(start, "inc1" if start in lifecycle.BUSY else None)
            legal = target in TRANSITIONS[start] and target != S.DISPATCHED
            if legal:
                changed = lifecycle.change_status(u, target, expected_etag="", now=NOW)
                assert changed.status == target
                assert changed.version == u.version + 1
                if target in (S.AVAILABLE, S.OUT_OF_SERVICE):
                    assert changed.incident_id is None
            else:
                with pytest.raises(IllegalTransition) as err:
                    lifecycle.change_status(u, target, expected_etag="", now=NOW)
                assert start.name in str(err.value) or "ReserveUnits" in str(err.value)


def test_stale_etag_is_refused() -> None:
    with pytest.raises(StaleEtag):
        lifecycle.change_status(unit(), S.OUT_OF_SERVICE, expected_etag='W/"9"', now=NOW)


def test_reservation_rules() -> None:
    assert lifecycle.unavailable_reason(unit(), "i1") is None
    assert lifecycle.unavailable_reason(unit(S.DISPATCHED, "i1"), "i1") is None  # already ours
    assert "incidents/i2" in (lifecycle.unavailable_reason(unit(S.EN_ROUTE, "i2"), "i1") or "")
    assert "OUT_OF_SERVICE" in (lifecycle.unavailable_reason(unit(S.OUT_OF_SERVICE), "i1") or "")
    assert lifecycle.release_reason(unit(S.ON_SCENE, "i1"), "i1") is None
    assert lifecycle.release_reason(unit(S.ON_SCENE, "i2"), "i1") is not None


def test_position_verdicts() -> None:
    def pos(lat: float = 10.77, lon: float = 106.7, t: datetime = NOW) -> Position:
        return Position(lat, lon, t)

    assert judge(pos(), None, known_unit=True, now=NOW)[0] is Verdict.ACCEPTED
    assert judge(pos(), None, known_unit=False, now=NOW) == (Verdict.REJECTED, "unknown unit")
    assert judge(pos(lat=91), None, known_unit=True, now=NOW)[0] is Verdict.REJECTED
    assert judge(pos(lon=float("nan")), None, known_unit=True, now=NOW)[0] is Verdict.REJECTED
    later = NOW + timedelta(minutes=5)
    assert judge(pos(t=later), None, known_unit=True, now=NOW)[0] is Verdict.REJECTED
    assert judge(pos(), pos(t=NOW), known_unit=True, now=NOW)[0] is Verdict.DROPPED
    earlier = NOW - timedelta(seconds=1)
    assert judge(pos(), pos(t=earlier), known_unit=True, now=NOW)[0] is Verdict.ACCEPTED


def test_a_position_no_device_can_report_names_each_field() -> None:
    nan, inf = float("nan"), float("inf")
    assert position_violations(Position(10.77, 106.7, NOW, 359.5, 30.0, 8.0), "p") == []
    bad = Position(nan, inf, NOW, heading=-1.0, speed=nan, accuracy=1e9)
    assert [v.field for v in position_violations(bad, "report.position")] == [
        f"report.position.{f}" for f in ("lat", "lon", "heading", "speed", "accuracy")
    ]
    assert (
        judge(Position(10.77, 106.7, NOW, heading=inf), None, known_unit=True, now=NOW)[0]
        is Verdict.REJECTED
    )
