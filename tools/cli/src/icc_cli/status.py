"""`icc status`: each process `icc run` started, whether it is alive and well, and its log.

Read from `var/processes.json` (`icc_cli.supervisor`); each process is asked the way it
answers: the standard gRPC health service (the services), HTTP 200 (the gateway's and the
trace sink's `/healthz`, NATS monitoring's `/healthz`, which includes JetStream), or
nothing but being alive (the simulator). All are asked at once, each with a short deadline.
"""

import os
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.table import Table
from rich.text import Text

from icc_cli.supervisor import Listed, Manifest, Probe
from icc_cli.watchdog import stat
from icc_rpc import TlsConfig, sync_channel

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


@dataclass(frozen=True)
class ProcessStatus:
    process: Listed
    alive: bool
    health: Health


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    seen = stat(pid)
    return seen is not None and seen[0] != "Z"


def ask(
    probe: Probe,
    credentials: grpc.ChannelCredentials | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
    verify: ssl.SSLContext | bool = True,
) -> Health:
    """`credentials`: who asks a gRPC service (the on-call engineer's certificate);
    `verify`: whom an HTTPS probe trusts (the local CA)."""
    if probe.kind == "grpc":
        return _ask_grpc(probe.target, credentials, timeout_s)
    if probe.kind == "http":
        return _ask_http(probe.target, timeout_s, verify)
    return Health(True, "running")


def _ask_grpc(target: str, credentials: grpc.ChannelCredentials | None, timeout_s: float) -> Health:
    with sync_channel(target, credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout_s
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            return Health(False, code.name if code else "no answer")
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return Health(reply.status == health_pb2.HealthCheckResponse.SERVING, name)


def _ask_http(url: str, timeout_s: float, verify: ssl.SSLContext | bool = True) -> Health:
    try:
        reply = httpx.get(url, timeout=timeout_s, verify=verify)
    except httpx.HTTPError as exc:
        return Health(False, type(exc).__name__)
    return Health(reply.status_code == 200, f"HTTP {reply.status_code}")


def engineer_credentials(pki_dir: Path) -> grpc.ChannelCredentials | None:
    """The on-call engineer's certificate that `icc run` made, if it did."""
    tls = TlsConfig(pki_dir / "ca.crt", pki_dir / "oncall.crt", pki_dir / "oncall.key")
    try:
        return tls.channel_credentials()
    except OSError:
        return None


def engineer_https(pki_dir: Path) -> ssl.SSLContext | bool:
    """The same certificate for HTTPS (the trace sink's query endpoint)."""
    tls = TlsConfig(pki_dir / "ca.crt", pki_dir / "oncall.crt", pki_dir / "oncall.key")
    try:
        return tls.https_context()
    except OSError:
        return True


def check(
    manifest: Manifest,
    credentials: grpc.ChannelCredentials | None = None,
    verify: ssl.SSLContext | bool = True,
) -> list[ProcessStatus]:
    def one(process: Listed) -> ProcessStatus:
        if not alive(process.pid):
            return ProcessStatus(process, False, Health(False, "not running"))
        return ProcessStatus(process, True, ask(process.probe, credentials, verify=verify))

    with ThreadPoolExecutor(max_workers=max(1, len(manifest.processes))) as pool:
        return list(pool.map(one, manifest.processes))


def table(statuses: list[ProcessStatus]) -> Table:
    out = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("process", "pid", "health", "asked at", "log"):
        out.add_column(column, overflow="fold", no_wrap=column in ("process", "pid", "health"))
    for s in statuses:
        mark = Text("✓ ", style="green") if s.health.ok else Text("✗ ", style="red")
        out.add_row(
            s.process.name,
            str(s.process.pid),
            mark + Text(s.health.detail),
            s.process.probe.target or "-",
            _shorter(s.process.log),
        )
    return out


def _shorter(path: str) -> str:
    """Relative to the working directory when under it, as the user would type it."""
    try:
        return os.path.relpath(path) if Path(path).is_relative_to(Path.cwd()) else path
    except ValueError:
        return path
