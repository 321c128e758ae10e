"""The steps of an incident's life, and which step a span belongs to.

A span marks a step by what it is: the call that creates the incident (intake), dispatch
choosing units (dispatch decision), a reservation at resources and the assignment it
makes (reservation), a unit's acknowledgement or its en-route report (acknowledgement),
its on-scene report (on scene). The work under a marking span belongs to its step unless
it marks another (dispatch choosing under the intake's event, a reservation under the
choice); a span with nothing above it that marks a step takes the first step marked below
it (a screen's POST that creates an incident); the rest is `other` (notes, transport,
closing).

The screen's own reads (an HTTP GET or HEAD at the root of a trace, and all under it)
are told apart so that a timeline can leave them out.
"""

from enum import StrEnum

from icc_tracesink.model import JsonValue, Span


class Step(StrEnum):
    INTAKE = "intake"
    DECISION = "decision"
    RESERVATION = "reservation"
    ACKNOWLEDGEMENT = "acknowledgement"
    ON_SCENE = "on_scene"
    OTHER = "other"
    READS = "reads"  # the screen's own reads, when they are shown

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def order(self) -> int:
        return list(Step).index(self)


_LABELS = {
    Step.INTAKE: "Intake",
    Step.DECISION: "Dispatch decision",
    Step.RESERVATION: "Reservation",
    Step.ACKNOWLEDGEMENT: "Acknowledgement",
    Step.ON_SCENE: "On scene",
    Step.OTHER: "Other",
    Step.READS: "Screen reads",
}

UNIT_STATUS = "icc.unit.status"  # set by icc_telemetry on calls that change a unit's status
_BY_UNIT_STATUS = {"EN_ROUTE": Step.ACKNOWLEDGEMENT, "ON_SCENE": Step.ON_SCENE}
_BY_RPC_METHOD = {
    "CreateIncident": Step.INTAKE,
    "RecommendUnits": Step.DECISION,
    "AssignUnits": Step.DECISION,
    "ReserveUnits": Step.RESERVATION,
    "AcknowledgeAssignment": Step.ACKNOWLEDGEMENT,
}
# Dispatch's own spans around choosing and reserving.
_BY_NAME = {"dispatch incident": Step.DECISION, "reserve units": Step.RESERVATION}
# Events, by subject, published or processed.
_BY_SUBJECT = {
    "icc.incident.created": Step.INTAKE,
    "icc.dispatch.recommended": Step.DECISION,
    "icc.dispatch.assigned": Step.RESERVATION,
    "icc.dispatch.acknowledged": Step.ACKNOWLEDGEMENT,
    "icc.dispatch.escalated": Step.ACKNOWLEDGEMENT,  # an acknowledgement that did not come
}
_READ_METHODS = frozenset({"GET", "HEAD"})


def marker(span: Span) -> Step | None:
    """The step this span starts, if it starts one."""
    a = span.attributes
    for found in (
        _BY_UNIT_STATUS.get(_text(a.get(UNIT_STATUS))),
        _BY_RPC_METHOD.get(_text(a.get("rpc.method"))),
        _BY_NAME.get(span.name),
        _BY_SUBJECT.get(_text(a.get("messaging.destination.name"))),
    ):
        if found is not None:
            return found
    return None


def is_screen_read(root: Span) -> bool:
    """A trace that starts with an HTTP read (the screen's, as only the gateway serves
    HTTP) changed nothing: reading an incident is not part of its life."""
    if root.kind != "SERVER":
        return False
    method = root.attributes.get("http.request.method", root.attributes.get("http.method"))
    return _text(method) in _READ_METHODS


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else ""
