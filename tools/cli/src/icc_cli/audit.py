"""`icc audit INCIDENT`: who saw an incident's personal data and who changed it, oldest
first, from the incidents service's audit (`ListAuditRecords`, for supervisors of the
command center). It asks as the `command-center` identity `icc run` made (a supervisor of
the center), or as the certificate in `ICC_TLS_CA`/`ICC_TLS_CERT`/`ICC_TLS_KEY`."""

from typing import Annotated

import grpc
import typer
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_cli.arguments import IncidentArgument, incident_id_of, local_endpoint
from icc_rpc import TlsConfig, sync_channel

# Who asks by default: a supervisor of the center (`icc_pki.local.LOCAL`).
SUPERVISOR = "command-center"
ACTIONS = {
    pb.AUDIT_ACTION_READ: "read",
    pb.AUDIT_ACTION_CHANGE: "change",
    pb.AUDIT_ACTION_ERASE: "erased",
}


def _target(given: str | None) -> str:
    return local_endpoint(given, "incidents_grpc", "127.0.0.1:50051")


def _when(t: Timestamp) -> str:
    return t.ToDatetime().astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _call(r: pb.AuditRecord) -> str:
    if r.rpc:
        return r.rpc
    return "retention" if r.action == pb.AUDIT_ACTION_ERASE else "(bus event)"


def audit(
    incident: IncidentArgument,
    target: Annotated[
        str | None,
        typer.Option(
            envvar="ICC_INCIDENTS_TARGET",
            help="The incidents service (default: the one `icc run` started).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Every read of an incident's personal data and every change to it: when, what, through
    which call, who (the certificate) and for whom (the person at the screen), which fields.
    Field names only: the audit holds no values."""
    out = Console(highlight=False)
    name = f"incidents/{incident_id_of(incident)}"
    address = _target(target)
    try:
        credentials = TlsConfig.from_env(SUPERVISOR).channel_credentials()
    except OSError as exc:
        out.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    try:
        records = _records(name, address, credentials)
    except grpc.RpcError as exc:
        out.print(f"[red]✗[/] {_failure(exc, address)}")
        raise typer.Exit(1) from None
    if not records:
        out.print(f"Nothing on record for {escape(name)}.")
        return
    out.print(_table(name, records))


def _records(name: str, address: str, credentials: grpc.ChannelCredentials) -> list[pb.AuditRecord]:
    """Every audit record of incident `name`, page after page."""
    records: list[pb.AuditRecord] = []
    with sync_channel(address, credentials) as channel:
        stub = pb_grpc.IncidentServiceStub(channel)
        token = ""
        while True:
            reply = stub.ListAuditRecords(
                pb.ListAuditRecordsRequest(parent=name, page_size=500, page_token=token),
                timeout=10,
            )
            records.extend(reply.records)
            token = reply.next_page_token
            if not token:
                return records


def _failure(exc: grpc.RpcError, address: str) -> str:
    """What the service answered, and what to do about the usual refusals (as markup)."""
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    hints = {
        grpc.StatusCode.PERMISSION_DENIED: " The audit is for supervisors of the center.",
        grpc.StatusCode.UNAVAILABLE: f" Is the incidents service up at {address}?",
    }
    hint = hints.get(code, "") if code is not None else ""
    return f"{escape(details or '')}{escape(hint)}"


def _table(name: str, records: list[pb.AuditRecord]) -> Table:
    table = Table(title=f"{name}: {len(records)} records", show_header=True, box=None)
    for column in ("#", "time", "action", "call", "caller", "for", "agency, role", "fields"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            str(r.sequence),
            _when(r.time),
            ACTIONS.get(r.action, "?"),
            escape(_call(r)),
            escape(r.caller),
            escape(r.person or "-"),
            escape(f"{common_pb2.Agency.Name(r.agency).removeprefix('AGENCY_')} {r.role}"),
            escape(", ".join(r.fields)),
        )
    return table
