"""The gRPC face of the incidents service: protobuf in, domain calls, protobuf out.

`IncidentApi` is one servicer made of a room per kind of RPC, each over `base.ApiBase`
(the services it calls, the scope rules, the audit of what it answers): `reads`,
`changes`, `calls` (call-taking) and `eido` (standards). Who may call each RPC is
`icc_incidents.policy`."""

from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents.api.calls import CallTakingRpcs
from icc_incidents.api.changes import Changes
from icc_incidents.api.eido import Standards
from icc_incidents.api.reads import Reads

__all__ = ["SERVICE_NAME", "IncidentApi", "add_servicer"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IncidentService"].full_name
add_servicer = pb_grpc.add_IncidentServiceServicer_to_server


class IncidentApi(Reads, Changes, CallTakingRpcs, Standards):
    """Every RPC of `IncidentService`, as `add_servicer` registers it."""
