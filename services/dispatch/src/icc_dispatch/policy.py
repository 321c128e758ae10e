"""Who may call each RPC of the dispatch service (`icc_rpc.authz`; deny by default).

Choosing and assigning units is the command center's (and the simulator's, in drills);
a unit acknowledges its own assignment (a device, or its agency's dispatcher: `api.py`
checks the unit). Dispatch's copy of an incident does not say which agencies are involved,
so partners do not read dispatch status yet."""

from icc_dispatch.api import SERVICE_NAME
from icc_kernel.roles import Role
from icc_rpc import ANYONE, Policy, allow

_DISPATCHER = allow(center=Role.DISPATCHER, services=["simulator"])

POLICY = Policy(
    SERVICE_NAME,
    {
        "RecommendUnits": allow(center=Role.CALL_TAKER, services=["simulator"]),
        "AssignUnits": _DISPATCHER,
        "AcknowledgeAssignment": allow(
            center=Role.DISPATCHER, partners=Role.DISPATCHER, services=["simulator"], devices=True
        ),
        "ReleaseUnits": _DISPATCHER,
        "GetDispatchStatus": allow(
            center=Role.VIEWER, services=["simulator"], gateway=True, engineers=True
        ),
        "GetResponsePlan": ANYONE,
        # Every available unit, with positions: for the center's dispatcher picking one.
        "RankAvailableUnits": _DISPATCHER,
    },
)
