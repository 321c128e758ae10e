"""The incidents service's metrics: call intake and response times.

Attributes are few and coarse (lead agency, priority, exercise, the line the call came
in on, type family) so the
number of series stays small; never an incident id, a unit, a place or anything
about the caller.
"""

from opentelemetry import metrics
from opentelemetry.util.types import Attributes

from icc_incidents.domain.model import Incident

AGENCY = "icc.incident.agency"
PRIORITY = "icc.incident.priority"
EXERCISE = "icc.incident.exercise"
TYPE_FAMILY = "icc.incident.type"
# Response times by line (112, 113, 114, 115, partner, other): six values.
LINE = "icc.incident.line"

# Response times run from seconds (an automatic assignment) to half an hour (a unit
# stuck in traffic); the SDK's default buckets are for milliseconds.
RESPONSE_BUCKETS_S = (1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 480, 600, 900, 1800)

_meter = metrics.get_meter("icc_incidents")
_created = _meter.create_counter(
    "icc.incidents.created", unit="{incident}", description="Incidents created (call intake)"
)
_to_dispatch = _meter.create_histogram(
    "icc.incident.time_to_dispatch",
    unit="s",
    description="From the incident's creation to its first unit assigned",
    explicit_bucket_boundaries_advisory=RESPONSE_BUCKETS_S,
)
_to_on_scene = _meter.create_histogram(
    "icc.incident.time_to_on_scene",
    unit="s",
    description="From the incident's creation to its first unit on scene",
    explicit_bucket_boundaries_advisory=RESPONSE_BUCKETS_S,
)


def attributes(incident: Incident) -> dict[str, str | bool]:
    # The first agency is the lead one: the catalog lists it first for the type.
    lead = incident.agencies[0].name if incident.agencies else "UNSPECIFIED"
    # Drills are kept apart so they never pull the real response times.
    return {
        AGENCY: lead,
        PRIORITY: incident.priority.name,
        EXERCISE: incident.exercise,
        LINE: incident.call_line.name,
    }


def record_created(incident: Incident) -> None:
    """Once per new incident (not for a replayed request)."""
    labels: Attributes = {**attributes(incident), TYPE_FAMILY: incident.type_code.split(".")[0]}
    _created.add(1, labels)


def record_progress(before: Incident, after: Incident) -> None:
    """The response times `after` reached first; call once its change has committed.

    Only a change that sets `first_dispatch_time` (or `first_on_scene_time`) records,
    and the stored incident keeps it, so each incident counts once: a redelivered
    event (refused by the inbox) or a later unit changes nothing here.
    """
    if before.first_dispatch_time is None and after.first_dispatch_time is not None:
        seconds = (after.first_dispatch_time - after.create_time).total_seconds()
        _to_dispatch.record(max(0.0, seconds), attributes(after))
    if before.first_on_scene_time is None and after.first_on_scene_time is not None:
        seconds = (after.first_on_scene_time - after.create_time).total_seconds()
        _to_on_scene.record(max(0.0, seconds), attributes(after))
