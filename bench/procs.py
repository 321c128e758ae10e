"""Child processes of a benchmark run: started here, always ended here, even on error."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from icc_testing import NatsServer, Pki

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def cpu_seconds(child: Child) -> float:
    """CPU time (user + system) a child process used so far; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{child.process.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    # utime and stime are fields 14 and 15 of stat(5); [0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Processes:
    """Every process one benchmark run started; `stop_all()` ends whatever is left."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._children: list[Child] = []
        self._nats: list[NatsServer] = []
        self._dirs = 0
        self._pki: Pki | None = None

    @property
    def pki(self) -> Pki:
        """This run's CA and certificates (mutual TLS on every gRPC port, as deployed)."""
        if self._pki is None:
            self._pki = Pki(self.workdir / "pki")
        return self._pki

    def channel(self, target: str, identity: str = "command-center") -> grpc.aio.Channel:
        """A plain aio channel over mutual TLS (no client interceptors: the driver's cost
        stays out of the figures)."""
        return grpc.aio.secure_channel(target, self.pki.credentials(identity))

    def fresh_dir(self, name: str) -> Path:
        """A new, empty directory in the workdir (one per benchmark and repetition)."""
        self._dirs += 1
        path = self.workdir / f"{self._dirs:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def python(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> Child:
        """`python -m ...` from the repository root, output to a log file in the workdir."""
        return self.command(name, [sys.executable, *args], env)

    def command(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        """`argv` from the repository root, output to a log file in the workdir."""
        log_path = self.fresh_dir(name) / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        child = Child(name, process, log_path)
        self._children.append(child)
        return child

    def nats_server(self, name: str) -> NatsServer:
        server = NatsServer(self.fresh_dir(name))
        self._nats.append(server)
        server.start()
        return server

    def stop(self, child: Child, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if child in self._children:
            self._children.remove(child)

    def stop_nats(self, server: NatsServer) -> None:
        server.stop()
        if server in self._nats:
            self._nats.remove(server)

    def stop_all(self) -> None:
        for child in reversed(self._children[:]):
            self.stop(child, timeout_s=5.0)
        for server in reversed(self._nats[:]):
            self.stop_nats(server)


@contextlib.contextmanager
def scratch_processes(prefix: str, *, keep: bool = False) -> Iterator[Processes]:
    """Processes in a new work directory (a harness run alone), all ended on the way out;
    the directory is removed after a run that went through, unless `keep`."""
    procs = Processes(Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield procs
    finally:
        procs.stop_all()
    if not keep:
        shutil.rmtree(procs.workdir, ignore_errors=True)


async def wait_channel_ready(channel: grpc.aio.Channel, child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        try:
            await asyncio.wait_for(channel.channel_ready(), timeout=0.5)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name}: no gRPC server after {timeout_s} s") from None


async def wait_serving(
    channel: grpc.aio.Channel, child: Child, service: str, timeout_s: float
) -> None:
    """Polls gRPC health until `service` is SERVING (or the child dies, or time runs out)."""
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} not SERVING after {timeout_s} s:\n{child.log_tail()}")
        await asyncio.sleep(0.1)


async def start_consumer(
    procs: Processes,
    js: JetStreamContext,
    *,
    nats_url: str,
    stream: str,
    subject: str,
    key: str,
    echo_subject: str,
    timeout_s: float,
) -> Child:
    """Starts `bench.consumer` and waits until its durable consumer exists."""
    durable = "bench-consumer"
    child = procs.python(
        "consumer",
        [
            "-m",
            "bench.consumer",
            "--nats-url",
            nats_url,
            "--stream",
            stream,
            "--subject",
            subject,
            "--durable",
            durable,
            "--echo-subject",
            echo_subject,
            "--key",
            key,
        ],
    )
    deadline = time.monotonic() + timeout_s
    while True:
        child.check_alive()
        try:
            await js.consumer_info(stream, durable)
            return child
        except NotFoundError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer not up after {timeout_s} s") from None
            await asyncio.sleep(0.05)
