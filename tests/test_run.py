"""`icc run` (what `make run` starts): up, healthy, discoverable, stopped by Ctrl-C and
started again at once (a client connected to every port at the stop), and leaving nothing
behind when it is killed."""

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from nats.errors import Error as NatsError
from websockets.sync.client import connect as ws_connect

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_cli.certificates import tls_of
from icc_cli.status import alive
from icc_testing import free_port
from tests.supervision import (
    connect_everywhere,
    drain_and_close,
    free_ports,
    server_closed,
    start_and_wait,
    status,
)

pytestmark = pytest.mark.slow


def run_icc(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "icc_cli.main", "run"],
        env={**os.environ, "ICC_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "120", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# Two starts of the whole system (tens of seconds each on a busy machine): one test, so
# that the suite pays for one start less than two tests would.
@pytest.mark.timeout(600)
def test_icc_run_starts_everything_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    ports = free_ports()
    # The simulator a little faster than `make run` has it, to see its drills in time.
    proc = run_icc(tmp_path, **ports, ICC_SIMULATOR_RATE="120")
    endpoints_file = tmp_path / "var" / "endpoints.json"
    clients: list[socket.socket] = []
    try:
        # Seven processes one after another; on a busy 2-core machine (load 13) they took 112 s.
        deadline = time.monotonic() + 180
        while not endpoints_file.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "icc run did not come up in 180 s"
            time.sleep(0.2)
        endpoints = json.loads(endpoints_file.read_text())
        target = endpoints["incidents_grpc"]
        assert target == f"127.0.0.1:{ports['ICC_INCIDENTS_PORT']}"
        assert endpoints["trace_sink_otlp"] == f"http://127.0.0.1:{ports['ICC_TRACESINK_PORT']}"
        assert (
            endpoints["dispatch_metrics"]
            == f"http://127.0.0.1:{ports['ICC_DISPATCH_METRICS_PORT']}/metrics"
        )
        # Mutual TLS on every gRPC port, with the certificates listed in the file.
        listed = endpoints["tls"]["identities"]
        assert {"command-center", "police-113", "fire-114", "medical-115", "oncall"} <= set(listed)
        center = tls_of(endpoints["tls"], "command-center").channel_credentials()
        with grpc.insecure_channel(target) as plain, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
        with grpc.secure_channel(target, center) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="icc.incident.v1.IncidentService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            reply = next(
                reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
                )
            )
            services = {s.name for s in reply.list_services_response.service}
            assert "icc.incident.v1.IncidentService" in services
        # The gateway: healthy (picture loaded), a demo dispatcher signs in and sees the fleet.
        screen = endpoints["gateway_http"]
        assert screen == f"http://127.0.0.1:{ports['ICC_GATEWAY_PORT']}/"
        with httpx.Client(base_url=screen, timeout=10) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            signed_in = http.post(
                "/api/v1/session", json={"username": "dispatcher", "password": "icc-demo"}
            )
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["user"]["role"] == "dispatcher"
            assert len(http.get("/api/v1/picture").json()["units"]) > 500
        with grpc.secure_channel(endpoints["resources_grpc"], center) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="icc.resource.v1.ResourceService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        # Partners' EIDO over WebSocket on the gateway's partner listener, as medical 115.
        partners = endpoints["gateway_partners"]
        assert partners == f"wss://127.0.0.1:{ports['ICC_GATEWAY_PARTNER_PORT']}/eido"
        medical = tls_of(endpoints["tls"], "medical-115")
        medical_tls = ssl.create_default_context(cafile=str(medical.ca))
        medical_tls.load_cert_chain(str(medical.cert), str(medical.key))
        with ws_connect(partners, ssl=medical_tls, open_timeout=10) as eido:
            assert json.loads(eido.recv(timeout=10))["type"] == "subscribed"
            # A P1 incident through the gRPC API gets units with no dispatcher action.
            with grpc.secure_channel(target, center) as channel:
                created = (
                    incident_grpc.IncidentServiceStub(channel)
                    .CreateIncident(
                        incident_pb.CreateIncidentRequest(
                            incident=incident_pb2.Incident(
                                type_code="MEDICAL.CARDIAC_ARREST",
                                location=common_pb2.Location(lat=10.7769, lon=106.7009),
                            )
                        ),
                        timeout=5,
                    )
                    .incident
                )
            # ... and medical 115 is notified of it (the simulator's drills are not shown to it).
            while True:
                notified = json.loads(eido.recv(timeout=20))
                document = notified["document"]["incidentComponent"]
                if document["internalIncidentId"] == created.name:
                    break
            assert notified["action"] == "created"
        with grpc.secure_channel(endpoints["dispatch_grpc"], center) as channel:
            stub = dispatch_grpc.DispatchServiceStub(channel)
            deadline = time.monotonic() + 20
            status = None
            while time.monotonic() < deadline:
                try:
                    status = stub.GetDispatchStatus(
                        dispatch_pb.GetDispatchStatusRequest(incident=created.name), timeout=5
                    ).status
                    if status.state == dispatch_pb2.DISPATCH_STATE_COMPLETE:
                        break
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
            assert status is not None and status.state == dispatch_pb2.DISPATCH_STATE_COMPLETE
            assert len(status.assignments) == 2  # the nearest ALS ambulance and motorbike
        # The services' spans reach the trace sink, and `icc trace` finds them by incident.
        expected = ("IncidentService/CreateIncident", "DispatchService/GetDispatchStatus")
        deadline = time.monotonic() + 20
        while True:
            shown = subprocess.run(
                [sys.executable, "-m", "icc_cli.main", "trace", created.name],
                env={**os.environ, "ICC_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"},
                capture_output=True,
                text=True,
                timeout=30,
            )
            if all(e in shown.stdout for e in expected) or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # spans come in batches, every 0.5 s under `icc run`
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for operation in expected:
            assert operation in shown.stdout, shown.stdout
        # The sink's query endpoint answers no one without a certificate; `icc trace`
        # asks it as the on-call engineer.
        sink = endpoints["trace_sink_query"]
        anonymous = ssl.create_default_context(cafile=endpoints["tls"]["ca"])
        waterfall = f"{sink}/incidents/{created.name.removeprefix('incidents/')}/waterfall"
        assert httpx.get(waterfall, verify=anonymous, timeout=10).status_code == 401
        asked = subprocess.run(
            [sys.executable, "-m", "icc_cli.main", "trace", created.name, "--sink", sink],
            env={**os.environ, "ICC_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert asked.returncode == 0 and expected[0] in asked.stdout, asked.stdout + asked.stderr
        # A supervisor sees the same spans through the gateway (the sink's query endpoint).
        with httpx.Client(base_url=screen, timeout=10) as http:
            http.post("/api/v1/session", json={"username": "supervisor", "password": "icc-demo"})
            incident_id = created.name.removeprefix("incidents/")
            spans = http.get(f"/api/v1/incidents/{incident_id}/trace").json()["spans"]
            assert {s["service"] for s in spans} >= {"incidents", "dispatch"}
            # The simulator's drills appear in the live picture.
            deadline = time.monotonic() + 30
            while not any(i["exercise"] for i in http.get("/api/v1/picture").json()["incidents"]):
                assert time.monotonic() < deadline, "no simulated call in 30 s"
                time.sleep(0.5)
        # Connected to every port at the stop: the servers close these connections.
        clients = connect_everywhere(ports)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out
    assert "stopped" in out
    assert f"Dispatcher screen: http://127.0.0.1:{ports['ICC_GATEWAY_PORT']}/" in out
    for name, port in ports.items():  # every process it started is gone
        with socket.socket() as s:
            # Connections an HTTP server closed linger in TIME_WAIT; only a listener fails this.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", int(port)))
            except OSError:
                raise AssertionError(f"{name} {port} is still taken") from None
    for client in clients:
        drain_and_close(client)
    # The server side of each of those connections waits out TIME_WAIT on its port.
    assert server_closed(ports), "no connection was closed by the server side"
    _restarts_at_once_and_leaves_nothing_when_killed(tmp_path / "var", ports)


def _restarts_at_once_and_leaves_nothing_when_killed(var: Path, ports: dict[str, str]) -> None:
    env = {**ports, "ICC_VAR_DIR": str(var), "ICC_SIMULATOR_RATE": "0", "COLUMNS": "120"}
    proc = start_and_wait(var, env)
    try:
        shown = status(env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for name in (
            "nats-server",
            "tracesink",
            "incidents",
            "resources",
            "dispatch",
            "ops",
            "gateway",
        ):
            assert str(var / "log" / f"{name}.log") in shown.stdout
        # Its bus refuses a client without credentials (the services connected with theirs).
        with pytest.raises(NatsError, match="Authorization Violation"):
            asyncio.run(
                nats.connect(
                    f"nats://127.0.0.1:{ports['ICC_NATS_PORT']}",
                    allow_reconnect=False,
                    connect_timeout=5,
                )
            )
        manifest = json.loads((var / "processes.json").read_text())
        assert manifest["supervisor"] == proc.pid
        children = [p["pid"] for p in manifest["processes"]]
        assert all(alive(pid) for pid in children)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        killed = time.monotonic()
        while left := [pid for pid in children if alive(pid)]:
            assert time.monotonic() - killed < 5, f"still running 5 s after icc run: {left}"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = status(env)
    assert shown.returncode == 1
    assert "is not running" in shown.stdout


def test_icc_run_says_which_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_icc(tmp_path, ICC_NATS_PORT=str(port), ICC_NATS_MONITOR_PORT=str(free_port()))
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"port {port}" in out
    assert "ICC_NATS_PORT" in out
