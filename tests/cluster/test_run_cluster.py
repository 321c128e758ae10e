"""`icc run --cluster`: the deployment's topology for an engineer (three nats-servers on the
deployment's configuration, two replicas of every service sharing SQLite files), up,
healthy, taking a P1 incident end to end through either replica, and stopped by Ctrl-C.

Fourteen processes started one after another: minutes on a busy 2-core machine, so it runs
with the fault suite (`make test-faults`), not in `make test`."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_cli import cluster
from icc_cli.certificates import tls_of
from icc_rpc.client import tls_options
from tests.cluster.harness import free_port_block

pytestmark = [pytest.mark.faults, pytest.mark.timeout(480)]

START_LIMIT_S = 300.0
# The single node's ports; each second replica listens 100 above.
SERVICE_PORTS = (
    "ICC_INCIDENTS_PORT",
    "ICC_RESOURCES_PORT",
    "ICC_DISPATCH_PORT",
    "ICC_OPS_PORT",
    "ICC_GATEWAY_PORT",
    "ICC_INCIDENTS_METRICS_PORT",
    "ICC_RESOURCES_METRICS_PORT",
    "ICC_DISPATCH_METRICS_PORT",
    "ICC_OPS_METRICS_PORT",
    "ICC_GATEWAY_METRICS_PORT",
    "ICC_GATEWAY_PARTNER_PORT",
)


def _free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> dict[str, str]:
    """A free port for each setting whose port + 100 is free too, and nine consecutive
    free ports for the three nats-servers."""
    ports = {"ICC_NATS_PORT": str(free_port_block(3 * cluster.NODES))}
    taken = {int(ports["ICC_NATS_PORT"]) + i for i in range(3 * cluster.NODES)}
    for name in (*SERVICE_PORTS, "ICC_TRACESINK_PORT", "ICC_TRACESINK_QUERY_PORT"):
        for _ in range(200):
            port = free_port_block(1)
            pair = {port, cluster.replica_port(port, 1)}
            if pair.isdisjoint(taken) and all(_free(p) for p in pair) and port + 100 < 65000:
                taken |= pair
                ports[name] = str(port)
                break
        else:
            raise AssertionError(f"no free port pair for {name}")
    return ports


@pytest.mark.timeout(480)
def test_icc_run_cluster_starts_the_topology_and_takes_an_incident(tmp_path: Path) -> None:
    var = tmp_path / "var"
    ports = _ports()
    env = {
        # SQLite: no ICC_<SERVICE>_DB_URL from the caller's environment.
        **{k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")},
        **ports,
        "ICC_VAR_DIR": str(var),
        "COLUMNS": "160",
    }
    out_path = tmp_path / "icc-run.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "icc_cli.main", "run", "--cluster"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started = time.monotonic()
    try:
        while not (var / "endpoints.json").exists():
            assert proc.poll() is None, out_path.read_text()
            assert time.monotonic() - started < START_LIMIT_S, (
                f"icc run --cluster did not come up in {START_LIMIT_S:.0f} s:\n"
                + out_path.read_text()
            )
            time.sleep(0.5)
        print(f"icc run --cluster up in {time.monotonic() - started:.0f} s")
        endpoints = json.loads((var / "endpoints.json").read_text())
        replicas = endpoints["replicas"]
        assert len(endpoints["nats"].split(",")) == cluster.NODES
        # Three nodes in one JetStream meta group.
        for monitor in replicas["nats_monitoring"]:
            with urllib.request.urlopen(f"{monitor}/jsz", timeout=5) as reply:
                assert json.loads(reply.read())["meta_cluster"]["cluster_size"] == cluster.NODES
        oncall = tls_of(endpoints["tls"], "oncall").channel_credentials()
        for key in ("incidents_grpc", "resources_grpc", "dispatch_grpc", "ops_grpc"):
            assert len(replicas[key]) == cluster.REPLICAS
            for address in replicas[key]:
                with grpc.secure_channel(address, oncall) as channel:
                    health = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(), timeout=10
                    )
                    assert health.status == health_pb2.HealthCheckResponse.SERVING, address
        # The streams a service declares have three replicas.
        assert asyncio.run(_replicas_of("ICC_INCIDENT", endpoints["nats"])) == cluster.NODES
        # A P1 through the target naming both replicas, dispatched with no action.
        center = tls_of(endpoints["tls"], "command-center").channel_credentials()
        target = endpoints["incidents_grpc"]
        with grpc.secure_channel(target, center, tls_options(target)) as channel:
            created = (
                incident_grpc.IncidentServiceStub(channel)
                .CreateIncident(
                    incident_pb.CreateIncidentRequest(
                        incident=incident_pb2.Incident(
                            type_code="MEDICAL.CARDIAC_ARREST",
                            location=common_pb2.Location(lat=10.7769, lon=106.7009),
                        )
                    ),
                    timeout=10,
                )
                .incident
            )
        # Asked of each dispatch replica: both know the decision (one database, one bus).
        for address in replicas["dispatch_grpc"]:
            assert _dispatched(address, center, created.name) == 2  # ALS ambulance, motorbike
        # Each gateway replica shows it to a dispatcher signed in there.
        for screen in replicas["gateway_http"]:
            with httpx.Client(base_url=screen, timeout=10) as http:
                signed_in = http.post(
                    "/api/v1/session", json={"username": "dispatcher", "password": "icc-demo"}
                )
                assert signed_in.status_code == 200, signed_in.text
                _wait_in_picture(http, created.name)
        shown = subprocess.run(
            [sys.executable, "-m", "icc_cli.main", "status"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for name in ("nats-1", "nats-2", "nats-3", "incidents-2", "dispatch-2", "gateway-2"):
            assert name in shown.stdout, shown.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out_text = out_path.read_text()
    assert proc.returncode == 0, out_text
    assert "stopped" in out_text
    for name, port in ports.items():  # every listener it started is gone
        for p in (int(port), cluster.replica_port(int(port), 1)):
            assert _free(p), f"{name} {p} is still taken"


async def _replicas_of(stream: str, urls: str) -> int:
    nc = await nats.connect(
        urls.split(","),
        user="gateway",
        password=cluster.NATS_PASSWORDS["GATEWAY_NATS_PASSWORD"],
        connect_timeout=5,
    )
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.config.num_replicas or 0)
    finally:
        await nc.close()


def _dispatched(address: str, credentials: grpc.ChannelCredentials, incident: str) -> int:
    """The number of units assigned once dispatch is complete (20 s at most)."""
    with grpc.secure_channel(address, credentials) as channel:
        stub = dispatch_grpc.DispatchServiceStub(channel)
        deadline = time.monotonic() + 30
        state = "nothing"
        while time.monotonic() < deadline:
            try:
                status = stub.GetDispatchStatus(
                    dispatch_pb.GetDispatchStatusRequest(incident=incident), timeout=5
                ).status
            except grpc.RpcError as exc:
                state = str(exc.code())
            else:
                state = dispatch_pb2.DispatchState.Name(status.state)
                if status.state == dispatch_pb2.DISPATCH_STATE_COMPLETE:
                    return len(status.assignments)
            time.sleep(0.2)
    raise AssertionError(f"{incident} not dispatched in 30 s at {address} (last: {state})")


def _wait_in_picture(http: httpx.Client, name: str) -> None:
    incident_id = name.removeprefix("incidents/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = http.get("/api/v1/picture").json()["incidents"]
        if any(incident_id in (i.get("id"), i.get("name")) for i in shown):
            return
        time.sleep(0.5)
    raise AssertionError(f"{name} not in {http.base_url}'s picture within 30 s")
