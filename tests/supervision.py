"""What tests of `icc run` as a supervisor use: its ports, clients held on each of them,
the sockets the servers closed, a start in the background, `icc status`."""

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from icc_testing import free_port

# Ports that speak HTTP/1.1: a client there asks once and keeps its connection open.
HTTP_PORTS = (
    "ICC_NATS_MONITOR_PORT",
    "ICC_TRACESINK_QUERY_PORT",
    "ICC_INCIDENTS_METRICS_PORT",
    "ICC_RESOURCES_METRICS_PORT",
    "ICC_DISPATCH_METRICS_PORT",
    "ICC_OPS_METRICS_PORT",
    "ICC_GATEWAY_PORT",
    "ICC_GATEWAY_METRICS_PORT",
)
# Of those, the ones that speak HTTPS (the trace sink's query endpoint).
HTTPS_PORTS = ("ICC_TRACESINK_QUERY_PORT",)
# Every port `icc run` listens on, by the variable that moves it.
PORTS = (
    "ICC_NATS_PORT",
    "ICC_INCIDENTS_PORT",
    "ICC_RESOURCES_PORT",
    "ICC_DISPATCH_PORT",
    "ICC_OPS_PORT",
    "ICC_TRACESINK_PORT",
    "ICC_GATEWAY_PARTNER_PORT",
    *HTTP_PORTS,
)
# /proc/net/tcp states of a connection the server side closed first.
SERVER_CLOSED = {"05": "FIN_WAIT2", "06": "TIME_WAIT"}


def start_and_wait(var: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    (var / "endpoints.json").unlink(missing_ok=True)
    var.mkdir(parents=True, exist_ok=True)
    with (var.parent / "icc-run.out").open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "icc_cli.main", "run"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while not (var / "endpoints.json").exists():
        assert proc.poll() is None, (var.parent / "icc-run.out").read_text()
        assert time.monotonic() < deadline, "icc run did not come up in 180 s"
        time.sleep(0.2)
    return proc


def connect_everywhere(ports: dict[str, str]) -> list[socket.socket]:
    clients = []
    for name, port in ports.items():
        client = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        if name in HTTPS_PORTS:
            # Who the server is does not matter here, only who closes the connection.
            anyone = ssl.create_default_context()
            anyone.check_hostname = False
            anyone.verify_mode = ssl.CERT_NONE
            client = anyone.wrap_socket(client)
        if name in HTTP_PORTS:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert client.recv(64).startswith(b"HTTP/1."), name
        clients.append(client)
    return clients


def drain_and_close(client: socket.socket) -> None:
    """Reads what the server sent up to its close, then closes: a socket closed with
    unread data sends a reset, which would spare the server side its TIME_WAIT."""
    try:
        while client.recv(65536):
            pass
    except OSError:
        pass
    client.close()


def server_closed(ports: dict[str, str]) -> dict[int, str]:
    """Local sockets on our ports in a state only the closing side goes through (gRPC's
    dual-stack sockets are in tcp6)."""
    wanted = {int(p) for p in ports.values()}
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port in wanted and fields[3] in SERVER_CLOSED:
                    found[port] = SERVER_CLOSED[fields[3]]
    return found


def status(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "icc_cli.main", "status"],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=30,
    )


def free_ports() -> dict[str, str]:
    return {name: str(free_port()) for name in PORTS}
