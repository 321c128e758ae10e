"""Who may call each RPC of the incidents service (`icc_rpc.authz`; deny by default).

What a call then sees is its scope: a partner only incidents its agency is involved in
(in `agencies` or holding an assigned unit) and changes only those; drills only for those
who take part in exercises; callers' details and notes only to call-takers and up at the
center and to partner dispatchers (`icc_incidents.api` applies it)."""

from icc_incidents.api import SERVICE_NAME
from icc_kernel.roles import Role
from icc_rpc import ANYONE, Policy, allow

# Reads of incidents: everyone who works them, and the systems that show them.
_READ = allow(
    center=Role.VIEWER,
    partners=Role.VIEWER,
    services=["simulator"],
    gateway=True,
    engineers=True,
)
# Taking a call; changing an incident or its narrative.
_WRITE = allow(center=Role.CALL_TAKER, partners=Role.DISPATCHER, services=["simulator"])
# Finding the place of a call.
_CALL_TAKING = allow(center=Role.CALL_TAKER, partners=Role.CALL_TAKER, services=["simulator"])
# Ending an incident or folding duplicates into it: a dispatcher's decision.
_DECIDE = allow(center=Role.DISPATCHER, partners=Role.DISPATCHER, services=["simulator"])

POLICY = Policy(
    SERVICE_NAME,
    {
        "CreateIncident": _WRITE,
        "GetIncident": _READ,
        "ListIncidents": _READ,
        "UpdateIncident": _WRITE,
        "AddNote": _WRITE,
        "MergeIncidents": _DECIDE,
        "CloseIncident": _DECIDE,
        "CancelIncident": _DECIDE,
        "ListChronology": _READ,
        "ListIncidentTypes": ANYONE,
        "WatchIncidents": _READ,
        # Call-taking: where the caller is, whether it was called in already, hazards known
        # at the place, the questions that set the priority.
        "SearchPlaces": _CALL_TAKING,
        # Duplicates may be any agency's incidents: the center's call-takers only.
        "FindPossibleDuplicates": allow(center=Role.CALL_TAKER, services=["simulator"]),
        "AddCaller": _WRITE,
        # Premise cautions: the center's supervisors and partner agencies' dispatchers.
        "CreateCaution": allow(
            center=Role.SUPERVISOR, partners=Role.DISPATCHER, services=["simulator"]
        ),
        "ListCautions": allow(
            center=Role.VIEWER, partners=Role.VIEWER, services=["simulator"], gateway=True
        ),
        # Counts of earlier incidents near a point, any agency's: the center's call-takers.
        "GetPlaceHistory": allow(center=Role.CALL_TAKER, services=["simulator"]),
        "ListKeyQuestions": ANYONE,
        "AnswerKeyQuestions": _WRITE,
        # Standards: an incident as an EIDO document is read like the incident; a call is
        # transferred in by whoever takes calls (a partner's call-takers, a 112 center).
        "GetIncidentEido": _READ,
        "ImportEido": _CALL_TAKING,
        # Who saw or changed an incident's personal data: the center's supervisors only
        # (partners, even of an involved agency, do not see who else looked).
        "ListAuditRecords": allow(center=Role.SUPERVISOR),
    },
)
