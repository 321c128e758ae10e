"""`dispatch-cluster`: create → assigned on the deployment's topology beside one node, in
one run.

- one node: incidents, resources and dispatch, one process each, on one nats-server
  (streams of one replica), as `dispatch-e2e` runs them;
- the cluster: three nats-servers on the deployment's `deploy/nats/nats.conf`
  (`icc_cli.cluster`: `sync_interval: always`, each service its own NATS user, streams of
  three replicas) and two replicas of each service, the driver's calls spread over both
  incidents replicas (round robin), dispatch's over both resources replicas.

Both sides on SQLite files (a cluster's replicas share their service's file), so the
difference is the bus and the replicas, not the database. Each side is driven as
`dispatch-e2e` drives one node (the same incidents at 1, 10 and 50/s, units released once
assigned), and both see the assignments through the same kind of reader: an ordered
JetStream consumer of `icc.dispatch.assigned` (what the gateway's user may read).
"""

import asyncio
import json
import socket
import time
import urllib.request

import grpc
import nats
from nats.aio.client import Client

from bench.dispatch import Assignments, Calls
from bench.load import paced
from bench.procs import Child, Processes, cpu_seconds, wait_serving
from bench.settings import Settings
from bench.stats import p50_ms, p99_ms
from bench.system import GRPC_SERVICES, QUIET, System
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_bus import nats_server_binary
from icc_cli import cluster
from icc_rpc.client import tls_options
from icc_testing import free_port

SERVICES = ("incidents", "resources", "dispatch")
DISPATCH_ENV = {"ICC_DISPATCH_ACK_TIMEOUT_S": "3600"}


async def dispatch_cluster(procs: Processes, settings: Settings) -> dict[str, float]:
    figures: dict[str, float] = {}
    # One side after the other, each stopped before the next starts: two cores.
    figures |= await _one_node(procs, settings)
    figures |= await _cluster(procs, settings)
    return figures


async def _one_node(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("one-nats")
    system = System(procs, server, procs.fresh_dir("one-node"), SERVICES)
    try:
        await system.start_services(settings.start_timeout_s, dispatch_env=DISPATCH_ENV)
        nc = await nats.connect(server.url, name="bench-cluster-reader")
        children = {name: [child] for name, child in system.children.items()}
        try:
            return await _drive(
                "one",
                settings,
                nc,
                system.channels["incidents"],
                system.channels["dispatch"],
                children,
            )
        finally:
            await nc.close()
    finally:
        await system.close()
        for child in system.children.values():
            procs.stop(child)
        procs.stop_nats(server)


async def _cluster(procs: Processes, settings: Settings) -> dict[str, float]:
    work = procs.fresh_dir("cluster")
    nodes = cluster.nodes_at("127.0.0.1", _free_port_block(3 * cluster.NODES), work / "nats")
    confs = cluster.write_configs(nodes, work / "nats-conf")
    started: list[Child] = []
    for node in nodes:
        started.append(
            procs.command(
                node.name,
                [nats_server_binary(), "--config", str(confs[node.name])],
                cluster.nats_env(node),
            )
        )
    for node, child in zip(nodes, started, strict=True):
        await _until(node.healthz, child, settings.start_timeout_s)
    ports = {s: [free_port() for _ in range(cluster.REPLICAS)] for s in SERVICES}
    targets = {s: _target(ports[s]) for s in SERVICES}
    children: dict[str, list[Child]] = {s: [] for s in SERVICES}
    channels: dict[str, grpc.aio.Channel] = {}
    try:
        for service in SERVICES:  # incidents and resources before dispatch (it loads the fleet)
            for i, port in enumerate(ports[service]):
                env = {
                    **QUIET,
                    **cluster.bus_env(service, nodes),
                    f"ICC_{service.upper()}_ADDR": f"127.0.0.1:{port}",
                    f"ICC_{service.upper()}_DB_URL": f"sqlite+aiosqlite:///{work / f'{service}.db'}",
                    "ICC_RESOURCES_TARGET": targets["resources"],
                    **procs.pki.env(service),
                    **(DISPATCH_ENV if service == "dispatch" else {}),
                }
                child = procs.python(f"{service}-{i + 1}", ["-m", f"icc_{service}.main"], env)
                children[service].append(child)
                # Each replica serving before the next: the first one migrates the file.
                async with procs.channel(f"127.0.0.1:{port}") as one:
                    await wait_serving(one, child, GRPC_SERVICES[service], settings.start_timeout_s)
            channels[service] = _spread(procs, targets[service])
        nc = await nats.connect(
            [n.url for n in nodes],
            user="gateway",
            password=cluster.NATS_PASSWORDS["GATEWAY_NATS_PASSWORD"],
            name="bench-cluster-reader",
        )
        try:
            return await _drive(
                "cluster", settings, nc, channels["incidents"], channels["dispatch"], children
            )
        finally:
            await nc.close()
    finally:
        for channel in channels.values():
            await channel.close()
        for replicas in children.values():
            for child in replicas:
                procs.stop(child)
        for child in started:
            procs.stop(child)


async def _drive(
    side: str,
    settings: Settings,
    nc: Client,
    incidents: grpc.aio.Channel,
    dispatch: grpc.aio.Channel,
    children: dict[str, list[Child]],
) -> dict[str, float]:
    assignments = Assignments(dispatch_grpc.DispatchServiceStub(dispatch))
    calls = Calls(incident_grpc.IncidentServiceStub(incidents))
    # Ordered consumers are pushed to an _INBOX subject: the gateway's user may read them,
    # not core subjects; both sides read this way.
    sub = await nc.jetstream().subscribe(
        "icc.dispatch.assigned", cb=assignments.on_assigned, ordered_consumer=True
    )
    figures: dict[str, float] = {}
    try:
        for _ in range(5):  # every path once (plans, fleet, reservation, release)
            await assignments.wait(await calls.create(), 60)
        for per_s in settings.dispatch_rates:
            count = max(5, int(per_s * settings.dispatch_seconds))
            cpu_before = {s: sum(cpu_seconds(c) for c in cs) for s, cs in children.items()}
            names = await paced(per_s, count, calls.create)
            await assignments.wait_all(names, settings.event_timeout_s * 3)
            samples = [
                assignments.seen[n] - calls.started[n] for n in names if n in assignments.seen
            ]
            key = f"cluster.{side}.{per_s}"
            figures[f"{key}.p50_ms"] = p50_ms(samples)
            figures[f"{key}.p99_ms"] = p99_ms(samples)
            figures[f"{key}.lost"] = float(len(names) - len(samples))
            await assignments.released()
            await asyncio.sleep(1.0)
            # Every replica's CPU per incident: what the topology costs.
            for s, cs in children.items():
                used = sum(cpu_seconds(c) for c in cs) - cpu_before[s]
                figures[f"{key}.cpu_{s}_ms"] = used * 1000 / count
    finally:
        await sub.unsubscribe()
    return figures


def _target(ports: list[int]) -> str:
    return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)


def _spread(procs: Processes, target: str) -> grpc.aio.Channel:
    """A channel over every replica, calls spread round robin (as Kubernetes' Service
    spreads connections)."""
    options = [
        *tls_options(target),
        ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
    ]
    return grpc.aio.secure_channel(target, procs.pki.credentials("command-center"), options)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


async def _until(healthz: str, child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(_healthy, healthz):
        child.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{child.name} not healthy after {timeout_s} s:\n{child.log_tail()}")
        await asyncio.sleep(0.2)


def _free_port_block(size: int) -> int:
    """The first of `size` consecutive free ports (the three nodes' client, route and
    monitoring ports)."""
    for _ in range(50):
        first = free_port()
        if first + size < 65000 and all(_free(first + i) for i in range(size)):
            return first
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
