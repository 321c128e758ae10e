"""A partner agency's system talking to ICC in NENA EIDO, over mutual TLS.

It proves who it is with its certificate (issued by the city's CA: `icc pki issue`, or
`var/pki/` under `make run`), and only that: ICC decides what it may see and do from the
certificate (an agency, a role). Three things a partner's CAD does:

    python examples/partner/partner.py transfer DOCUMENT.json   # a call transferred in
    python examples/partner/partner.py get incidents/ID         # an incident as EIDO
    python examples/partner/partner.py watch [--cursor C] [--max N]
    python examples/partner/partner.py acknowledge incidents/ID       # its units' assignments
    python examples/partner/partner.py unit-status units/ID EN_ROUTE  # its own unit

`watch` prints one JSON line per event (`action`, `incident`, `cursor`, `document`); give
the last `cursor` back to resume after a disconnect with nothing missed or repeated.

The addresses are ICC_INCIDENTS_ADDR (default 127.0.0.1:50051), ICC_RESOURCES_ADDR
(127.0.0.1:50052) and ICC_DISPATCH_ADDR (127.0.0.1:50053); the certificate, key and CA
bundle are ICC_TLS_CERT, ICC_TLS_KEY and ICC_TLS_CA. The units ICC assigned are in each
document's `emergencyResourceComponent` (`emergencyResourceTypeInternalText`: the unit's
name; the `$id`, `urn:emergency:uid:resourceid:ID:…`, names the assignment `assignments/ID`
that `acknowledge` confirms; ICC lets a partner's dispatcher confirm only its own units').
The stubs come from ICC's protos/ (generate your own with grpcio-tools, or use the
icc-protos package of this repository).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import grpc

from icc.dispatch.v1 import dispatch_service_pb2, dispatch_service_pb2_grpc
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc.resource.v1 import resource_pb2, resource_service_pb2, resource_service_pb2_grpc

TIMEOUT_S = 10.0


def channel(variable: str = "ICC_INCIDENTS_ADDR", default: str = "127.0.0.1:50051") -> grpc.Channel:
    def read(variable: str) -> bytes:
        path = os.environ.get(variable)
        if not path:
            raise SystemExit(f"set {variable} to the path of your PEM file")
        return Path(path).read_bytes()

    credentials = grpc.ssl_channel_credentials(
        read("ICC_TLS_CA"), read("ICC_TLS_KEY"), read("ICC_TLS_CERT")
    )
    return grpc.secure_channel(os.environ.get(variable, default), credentials)


def transfer(stub: pb_grpc.IncidentServiceStub, path: str) -> None:
    reply = stub.ImportEido(
        pb.ImportEidoRequest(document=Path(path).read_text(encoding="utf-8")), timeout=TIMEOUT_S
    )
    print(
        json.dumps({"incident": reply.name, "created": reply.created, "replayed": reply.replayed})
    )


def get(stub: pb_grpc.IncidentServiceStub, name: str) -> None:
    reply = stub.GetIncidentEido(pb.GetIncidentEidoRequest(name=name), timeout=TIMEOUT_S)
    print(json.dumps(json.loads(reply.document), ensure_ascii=False, indent=2))


def watch(stub: pb_grpc.IncidentServiceStub, cursor: str, most: int) -> None:
    stream = stub.WatchIncidents(pb.WatchIncidentsRequest(eido=True, cursor=cursor))
    try:
        for seen, item in enumerate(stream, start=1):
            document = json.loads(item.eido_document)
            line = {
                "action": item.eido_action,
                "incident": document["incidentComponent"]["internalIncidentId"],
                "cursor": item.cursor,
                "document": document,
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            if most and seen >= most:
                break
    finally:
        stream.cancel()


RESOURCE_ID = "urn:emergency:uid:resourceid:"


def acknowledge(stub: pb_grpc.IncidentServiceStub, name: str) -> None:
    """Confirms each of the incident's assignments still waiting for it ("Dispatched")
    that belong to this partner's agency; one JSON line each, `refused` with ICC's reason
    for a unit that is not its own."""
    reply = stub.GetIncidentEido(pb.GetIncidentEidoRequest(name=name), timeout=TIMEOUT_S)
    waiting = [
        r
        for r in json.loads(reply.document).get("emergencyResourceComponent", [])
        if r["primaryUnitStatusRegistryText"] == "Dispatched" and r["$id"].startswith(RESOURCE_ID)
    ]
    with channel("ICC_DISPATCH_ADDR", "127.0.0.1:50053") as ch:
        dispatch = dispatch_service_pb2_grpc.DispatchServiceStub(ch)
        for resource in waiting:
            assignment = "assignments/" + resource["$id"][len(RESOURCE_ID) :].split(":")[0]
            line = {"assignment": assignment, "unit": resource["emergencyResourceTypeInternalText"]}
            try:
                dispatch.AcknowledgeAssignment(
                    dispatch_service_pb2.AcknowledgeAssignmentRequest(name=assignment),
                    timeout=TIMEOUT_S,
                )
                line["acknowledged"] = True
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.PERMISSION_DENIED:  # type: ignore[attr-defined]
                    raise
                line["refused"] = exc.details()  # type: ignore[attr-defined]
            print(json.dumps(line, ensure_ascii=False))


def unit_status(name: str, status: str) -> None:
    """One of the partner's own units reports its status (ICC refuses another agency's)."""
    with channel("ICC_RESOURCES_ADDR", "127.0.0.1:50052") as ch:
        stub = resource_service_pb2_grpc.ResourceServiceStub(ch)
        reply = stub.UpdateUnitStatus(
            resource_service_pb2.UpdateUnitStatusRequest(
                name=name, status=resource_pb2.UnitStatus.Value(f"UNIT_STATUS_{status}")
            ),
            timeout=TIMEOUT_S,
        )
    print(json.dumps({"unit": reply.unit.name, "status": status}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("transfer").add_argument("document")
    commands.add_parser("get").add_argument("name")
    commands.add_parser("acknowledge").add_argument("name")
    watching = commands.add_parser("watch")
    watching.add_argument("--cursor", default="")
    watching.add_argument("--max", type=int, default=0, help="stop after this many events")
    reporting = commands.add_parser("unit-status")
    reporting.add_argument("unit")
    reporting.add_argument("status", choices=["EN_ROUTE", "ON_SCENE", "AVAILABLE"])
    args = parser.parse_args()
    if args.command == "unit-status":
        try:
            unit_status(args.unit, args.status)
        except grpc.RpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
            raise SystemExit(1) from None
        return
    with channel() as ch:
        stub = pb_grpc.IncidentServiceStub(ch)
        try:
            if args.command == "transfer":
                transfer(stub, args.document)
            elif args.command == "get":
                get(stub, args.name)
            elif args.command == "acknowledge":
                acknowledge(stub, args.name)
            else:
                watch(stub, args.cursor, args.max)
        except grpc.RpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)  # type: ignore[attr-defined]
            raise SystemExit(1) from None


if __name__ == "__main__":
    main()
