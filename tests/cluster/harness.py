"""The deployment's topology on loopback for the fault suite: three nats-servers with the
deployment's configuration (`icc_cli.cluster`), PostgreSQL (one database per service, the
incidents' and dispatch's behind a proxy the test can cut) and two replicas of the
incidents, resources and dispatch services, each a real OS process."""

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from icc_bus import nats_server_binary
from icc_cli import cluster
from icc_testing import CuttableProxy, Pki, ServiceProcess
from tests.cluster.network import NodeNetwork

SERVICES = ("incidents", "resources", "dispatch")
# The suite's CA and certificates: every gRPC port speaks mutual TLS, as deployed.
PKI = Pki(Path(tempfile.mkdtemp(prefix="icc-cluster-pki-")))
# Databases a test may cut (behind a proxy); resources' is reached directly.
CUTTABLE = ("incidents", "dispatch")
# The services started together, wave after wave: dispatch needs resources up.
WAVES = (("incidents", "resources"), ("dispatch",))


@dataclass
class NatsProcess:
    node: cluster.NatsNode
    conf: Path
    log: Path
    # What runs the server elsewhere: `ip netns exec NS` for a node in its own network.
    prefix: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*self.prefix, nats_server_binary(), "--config", str(self.conf), "-l", str(self.log)],
            env={**os.environ, **cluster.nats_env(self.node)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.node.healthz, timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def jsz(self) -> dict[str, object]:
        url = f"http://{self.node.host}:{self.node.monitor_port}/jsz?streams=true&accounts=true"
        with urllib.request.urlopen(url, timeout=2) as reply:
            data: dict[str, object] = json.loads(reply.read())
            return data


@dataclass
class Replica:
    service: str
    index: int
    process: ServiceProcess

    @property
    def target(self) -> str:
        return self.process.target

    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def freeze(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid(), signal.SIGCONT)


@dataclass
class Cluster:
    root: Path
    postgres_url: str
    # Each nats-server in a network namespace of its own, so one can be partitioned
    # (`tests.cluster.network`); else all on loopback.
    partitionable: bool = False
    network: NodeNetwork | None = None
    nodes: list[cluster.NatsNode] = field(init=False)
    nats: list[NatsProcess] = field(default_factory=list)
    replicas: dict[str, list[Replica]] = field(default_factory=dict)
    proxies: dict[str, CuttableProxy] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    # The key every replica signs page tokens and cursors with, as a deployment's Secret
    # gives them one: a caller's next page may be served by the other replica.
    token_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # How long `start` took: the suite's budget is mostly start-ups.
    start_s: float = 0.0
    # Every replica process started, up or not: listed before it starts (see `stop`).
    starting: list[ServiceProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.partitionable:
            self.nodes = cluster.nodes_at("127.0.0.1", free_port_block(9), self.root / "nats")
            return
        self.network = NodeNetwork(cluster.NODES)
        # A namespace each: every node on the deployment's own ports.
        self.nodes = [
            cluster.NatsNode(
                name=f"nats-{i + 1}",
                host=host,
                client_port=4222,
                route_port=6222,
                monitor_port=8222,
                store_dir=self.root / "nats" / f"nats-{i + 1}",
            )
            for i, host in enumerate(self.network.hosts)
        ]

    @property
    def nats_urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def target(self, service: str) -> str:
        """A gRPC target naming every replica (the client fails over between them)."""
        addresses = ",".join(r.target for r in self.replicas[service])
        return f"ipv4:{addresses}"

    def start(self) -> None:
        began = time.monotonic()
        try:
            self._start()
        finally:
            self.start_s = time.monotonic() - began

    def _start(self) -> None:
        if self.network is not None:
            self.network.create()
        confs = cluster.write_configs(self.nodes, self.root / "nats-conf")
        for i, node in enumerate(self.nodes):
            prefix = self.network.argv(i, []) if self.network is not None else []
            proc = NatsProcess(node, confs[node.name], self.root / f"{node.name}.log", prefix)
            proc.start()
            self.nats.append(proc)
        wait_for(self._nats_healthy, 60, "the NATS cluster healthy")
        asyncio.run(self._create_databases())
        for service in CUTTABLE:
            url = make_url(self.databases[service])
            proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
            proxy.start()
            self.proxies[service] = proxy
        first = free_port_block(len(SERVICES) * cluster.REPLICAS)
        ports = {
            s: [first + cluster.REPLICAS * k + i for i in range(cluster.REPLICAS)]
            for k, s in enumerate(SERVICES)
        }
        # A wave's replicas start together, as Kubernetes starts them: on the cluster just
        # formed they declare the same streams at once (`icc_bus.streams` declares again
        # while JetStream refuses). Dispatch loads its fleet from resources at start.
        for wave in WAVES:
            processes = [
                (s, i, self._replica_process(s, i, ports))
                for s in wave
                for i in range(cluster.REPLICAS)
            ]
            self.starting.extend(p for _, _, p in processes)
            with ThreadPoolExecutor(len(processes)) as pool:
                started = [pool.submit(p.start, timeout_s=120) for _, _, p in processes]
            for future in started:
                future.result()  # the first failure, once every start is over
            for service, index, proc in processes:
                self.replicas.setdefault(service, []).append(Replica(service, index, proc))

    def _nats_healthy(self) -> bool:
        """Every node healthy; a node that exited fails at once, with its log's end."""
        for n in self.nats:
            if n.process is not None and n.process.poll() is not None:
                tail = n.log.read_text(errors="replace")[-1500:] if n.log.exists() else ""
                raise AssertionError(f"{n.node.name} exited at start-up:\n{tail}")
        return all(n.healthy() for n in self.nats)

    def _replica_process(
        self, service: str, index: int, ports: dict[str, list[int]]
    ) -> ServiceProcess:
        """Not started; made on the calling thread (`PKI` writes a service's files once)."""
        address = f"127.0.0.1:{ports[service][index]}"
        db_url = self.databases[service]
        if service in self.proxies:
            db_url = (
                make_url(db_url)
                .set(host="127.0.0.1", port=self.proxies[service].port)
                .render_as_string(hide_password=False)
            )
        env = {
            f"ICC_{service.upper()}_ADDR": address,
            f"ICC_{service.upper()}_DB_URL": db_url,
            **cluster.bus_env(service, self.nodes),
            "ICC_TOKEN_KEY": self.token_key,
            **PKI.env(service),
            "ICC_LOG_LEVEL": "WARNING",
        }
        if service == "dispatch":
            resources = ",".join(f"127.0.0.1:{p}" for p in ports["resources"])
            env["ICC_RESOURCES_TARGET"] = f"ipv4:{resources}"
            env["ICC_DISPATCH_ACK_TIMEOUT_S"] = "3600"
        return ServiceProcess(
            f"icc_{service}.main",
            address,
            env,
            self.root / f"{service}-{index + 1}.log",
            PKI.credentials(),
        )

    async def _create_databases(self) -> None:
        tag = uuid.uuid4().hex[:8]
        base = make_url(self.postgres_url)
        conn = await _admin(self.postgres_url)
        try:
            for service in SERVICES:
                name = f"icc_fault_{tag}_{service}"
                await conn.execute(f'CREATE DATABASE "{name}"')
                self.databases[service] = base.set(database=name).render_as_string(
                    hide_password=False
                )
        finally:
            await conn.close()

    def stop(self) -> None:
        try:
            for replicas in self.replicas.values():
                for r in replicas:
                    with contextlib.suppress(ProcessLookupError, AssertionError):
                        r.thaw()
                    r.process.stop()
            for proc in self.starting:  # one that failed to start, or the rest of its wave
                proc.stop()
            for proxy in self.proxies.values():
                proxy.stop()
            for n in self.nats:
                n.stop()
        finally:
            # Interfaces and namespaces outlive the test otherwise.
            if self.network is not None:
                self.network.remove()
        asyncio.run(self._drop_databases())

    async def _drop_databases(self) -> None:
        conn = await _admin(self.postgres_url)
        try:
            for url in self.databases.values():
                name = make_url(url).database
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def leader(self) -> tuple[NatsProcess, str]:
        """The node leading the JetStream meta group, and the stream ICC_INCIDENT's leader
        name (often the same node)."""
        for n in self.nats:
            if n.process is None or n.process.poll() is not None:
                continue
            jsz = n.jsz()
            meta = jsz.get("meta_cluster") or {}
            leader = meta.get("leader") if isinstance(meta, dict) else None
            stream_leader = ""
            for account in jsz.get("account_details") or []:  # type: ignore[attr-defined]
                for stream in account.get("stream_detail") or []:
                    if stream.get("name") == "ICC_INCIDENT":
                        stream_leader = (stream.get("cluster") or {}).get("leader", "")
            if leader:
                return next(p for p in self.nats if p.node.name == leader), stream_leader
        raise AssertionError("no JetStream meta leader")


def _ephemeral_ports() -> range:
    """The ports Linux gives outgoing connections (`ip_local_port_range`)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port_block(size: int) -> int:
    """The first of `size` consecutive free ports, below the ephemeral range: a port
    found free there (as `free_port` finds them) could be taken by any outgoing
    connection before a slow-starting server binds it, which happened under load (a
    nats-server's route port, taken in the seconds before it listened). Below the range
    only another listener can take it."""
    ephemeral = _ephemeral_ports()
    low, high = 20000, min(ephemeral.start, 65000) - size
    for _ in range(200):
        first = low + secrets.randbelow(max(1, high - low))
        if all(_free(first + i) for i in range(size)):
            return first
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not reached in {timeout_s} s: {what}")


async def _admin(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "postgres",
        password=u.password,
        database=u.database or "postgres",
    )


async def postgres_answers(url: str) -> bool:
    try:
        conn = await asyncio.wait_for(_admin(url), 3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True
