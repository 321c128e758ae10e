"""Who may call each RPC of the resources service (`icc_rpc.authz`; deny by default).

Scopes (`api.py`): a partner reads and changes only its own agency's units, a device only
its own unit (status and position), a hospital only its own capacity; everyone reads the
hospitals' capacity, the stations and the agencies. Only dispatch reserves and releases."""

from icc_kernel.roles import Role
from icc_resources.api import SERVICE_NAME
from icc_rpc import ANYONE, Policy, allow

_DISPATCH = allow(services=["dispatch"])
# The simulator plays every unit and hospital of its drills (local systems only).
_UNIT_STATUS = allow(
    center=Role.DISPATCHER, partners=Role.DISPATCHER, services=["simulator"], devices=True
)
_POSITION = allow(services=["simulator"], devices=True)

POLICY = Policy(
    SERVICE_NAME,
    {
        "ListUnits": allow(
            center=Role.VIEWER,
            partners=Role.VIEWER,
            services=["dispatch", "simulator"],
            gateway=True,
            engineers=True,
        ),
        "GetUnit": allow(
            center=Role.VIEWER,
            partners=Role.VIEWER,
            services=["dispatch", "simulator"],
            gateway=True,
            devices=True,
            engineers=True,
        ),
        "UpdateUnitStatus": _UNIT_STATUS,
        "ReserveUnits": _DISPATCH,
        "ReleaseUnits": _DISPATCH,
        "ReportPosition": _POSITION,
        "ReportPositions": _POSITION,
        "ListAgencies": ANYONE,
        "ListStations": ANYONE,
        "ListHospitals": ANYONE,
        # Hospital availability is public (the gateway serves it without a session).
        "WatchHospitals": ANYONE,
        "UpdateHospitalCapacity": allow(
            center=Role.SUPERVISOR, services=["simulator"], hospitals=True
        ),
    },
)
