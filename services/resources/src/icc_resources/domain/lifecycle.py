"""The unit lifecycle and the rules of reserving and releasing units."""

from datetime import datetime

from icc_kernel.errors import IllegalTransition, StaleEtag
from icc_kernel.names import name_of
from icc_kernel.vocabulary import UnitStatus
from icc_resources.domain.model import Unit

S = UnitStatus

# DISPATCHED is reached only by reservation (it needs an incident); AVAILABLE
# from a working status is a release and frees the unit from its incident.
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.AVAILABLE: frozenset({S.DISPATCHED, S.OUT_OF_SERVICE}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.ON_SCENE, S.AVAILABLE}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.AVAILABLE}),
    S.ON_SCENE: frozenset({S.TRANSPORTING, S.AVAILABLE}),
    S.TRANSPORTING: frozenset({S.AT_HOSPITAL}),
    S.AT_HOSPITAL: frozenset({S.AVAILABLE, S.OUT_OF_SERVICE}),
    S.OUT_OF_SERVICE: frozenset({S.AVAILABLE}),
}

# Statuses in which a unit is working an incident.
BUSY = frozenset({S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.TRANSPORTING, S.AT_HOSPITAL})


def check_etag(unit: Unit, expected: str) -> None:
    if expected and expected != unit.etag:
        raise StaleEtag(unit.name, expected, unit.etag)


def change_status(unit: Unit, to: UnitStatus, *, expected_etag: str, now: datetime) -> Unit:
    """A status report from the unit or a dispatcher (not a reservation)."""
    check_etag(unit, expected_etag)
    if to == S.DISPATCHED:
        raise IllegalTransition(
            f"{unit.name} becomes DISPATCHED only by ReserveUnits for an incident"
        )
    if to not in TRANSITIONS[unit.status]:
        allowed = ", ".join(sorted(s.name for s in TRANSITIONS[unit.status] - {S.DISPATCHED}))
        raise IllegalTransition(
            f"{unit.name} is {unit.status.name} and cannot become {to.name} "
            f"(from {unit.status.name}: {allowed or 'nothing'})"
        )
    incident = None if to in (S.AVAILABLE, S.OUT_OF_SERVICE) else unit.incident_id
    return unit.changed(now, status=to, incident_id=incident)


def unavailable_reason(unit: Unit, incident_id: str) -> str | None:
    """Why `unit` cannot be reserved for `incident_id`, or None when it can."""
    if unit.status == S.AVAILABLE and unit.incident_id is None:
        return None
    if unit.incident_id == incident_id and unit.status in BUSY:
        return None  # already held for this incident: reserving again changes nothing
    if unit.incident_id:
        return f"is {unit.status.name} for {name_of('incidents', unit.incident_id)}"
    return f"is {unit.status.name}"


def reserve(unit: Unit, incident_id: str, now: datetime) -> Unit:
    return unit.changed(now, status=S.DISPATCHED, incident_id=incident_id)


def release_reason(unit: Unit, incident_id: str) -> str | None:
    """Why `unit` cannot be released from `incident_id`, or None when it can."""
    if unit.incident_id != incident_id:
        held = name_of("incidents", unit.incident_id) if unit.incident_id else "no incident"
        return f"is held for {held}, not {name_of('incidents', incident_id)}"
    return None


def release(unit: Unit, now: datetime) -> Unit:
    return unit.changed(now, status=S.AVAILABLE, incident_id=None)
