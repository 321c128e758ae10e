"""Whether a process `icc run` starts can start and is up: its ports free beforehand, then
listening, answering or healthy in time, or exited (then with the end of its log)."""

import socket
import time

import grpc
import httpx

from icc_cli.supervisor import Child
from icc_rpc import wait_serving


class StackError(Exception):
    """Something the user must fix; the message says what to do."""


def check_port_free(host: str, port: int, variable: str) -> None:
    """Fails when something listens on the port. Binds as the servers do, with
    SO_REUSEADDR, so that connections of a previous run waiting out TIME_WAIT there do not
    count: they do not stop the servers from listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise StackError(
                f"port {port} on {host} is already in use. Stop whatever holds it "
                f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another with {variable}=PORT."
            ) from None


def check_alive(child: Child) -> None:
    if child.process.poll() is not None:
        tail = child.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise StackError(
            f"{child.name} exited with code {child.process.returncode}. "
            f"Last lines of {child.log_path}:\n{tail}"
        )


def wait_tcp(child: Child, host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check_alive(child)
        try:
            with socket.create_connection((host, port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"{child.name} did not listen on {host}:{port} within {timeout_s:.0f} s")


def wait_http_ok(child: Child, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check_alive(child)
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise StackError(
        f"{child.name} was not ready within {timeout_s:.0f} s ({url}); see {child.log_path}"
    )


def wait_healthy(
    child: Child, target: str, credentials: grpc.ChannelCredentials, timeout_s: float
) -> None:
    """gRPC health of `target` SERVING, asked with `credentials`."""
    if wait_serving(
        target,
        credentials,
        timeout_s=timeout_s,
        still_running=lambda: check_alive(child),
    ):
        return
    raise StackError(f"{child.name} was not healthy within {timeout_s:.0f} s; see {child.log_path}")
