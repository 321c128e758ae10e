"""Calls placed on the cluster during a fault, and the counts that say what became of them."""

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc
import nats

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import events_pb2 as incident_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_cli import cluster
from icc_rpc.client import tls_options
from tests.cluster.harness import PKI

TYPES = ["FIRE.RUBBISH", "POLICE.BURGLARY", "MEDICAL.CARDIAC_ARREST", "TRAFFIC.ROAD_BLOCKED"]
SPOTS = [(10.7740, 106.7035), (10.8000, 106.6650), (10.7550, 106.6400), (10.8500, 106.7700)]
# A partner's client: spread over the replicas, a call refused UNAVAILABLE retried by gRPC.
_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.2s",
                "maxBackoff": "2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


def partner_channel(target: str) -> grpc.aio.Channel:
    """As the command center's own client (mutual TLS), retrying UNAVAILABLE."""
    return grpc.aio.secure_channel(
        target,
        PKI.credentials(),
        options=[
            *tls_options(target),
            ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
            ("grpc.enable_retries", 1),
        ],
    )


@dataclass
class Calls:
    """P1 calls placed at a steady rate; each retried with its request id until answered
    (as a partner would): `acknowledged` maps request ids to incident names."""

    target: str
    acknowledged: dict[str, str] = field(default_factory=dict)
    # Calls that reached the caller as an error (each retried after).
    failures: Counter[str] = field(default_factory=Counter)
    placed: int = 0

    async def place(self, rate_per_s: float, duration_s: float, tag: str) -> None:
        async with partner_channel(self.target) as channel:
            stub = pb_grpc.IncidentServiceStub(channel)
            tasks = []
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < duration_s:
                tasks.append(asyncio.create_task(self._one(stub, f"{tag}-{n}", n)))
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate_per_s - time.monotonic()))
            self.placed += n
            await asyncio.gather(*tasks)

    async def _one(self, stub: pb_grpc.IncidentServiceStub, request_id: str, n: int) -> None:
        at = SPOTS[n % len(SPOTS)]
        request = pb.CreateIncidentRequest(
            request_id=request_id,
            incident=incident_pb2.Incident(
                type_code=TYPES[n % len(TYPES)],
                priority=1,  # type: ignore[arg-type]
                location=common_pb2.Location(lat=at[0], lon=at[1], ward="Sài Gòn"),
            ),
        )
        for _ in range(120):
            try:
                reply = await stub.CreateIncident(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                self.failures[exc.code().name] += 1
                await asyncio.sleep(1.0)
                continue
            self.acknowledged[request_id] = reply.incident.name
            return


@dataclass
class Counts:
    acknowledged: int
    stored: int
    announced: int
    announced_twice: int
    p1_undispatched: int
    assignments_announced_twice: int
    units_held_twice: int
    dead_letters: int
    client_failures: dict[str, int]

    def line(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


async def messages(nc: nats.NATS, stream: str) -> list[tuple[str, bytes, float]]:
    """(subject, payload, when stored: Unix seconds) of every message in `stream`, oldest
    first."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    out = []
    if info.state.messages:
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            stored_at = msg.time.timestamp() if msg.time else float("nan")
            out.append((msg.subject or "", msg.data or b"", stored_at))
    return out


async def connect_reader(urls: list[str]) -> nats.NATS:
    """The bus as the gateway reads it (its user may read every stream)."""
    return await nats.connect(
        urls,
        user="gateway",
        password=cluster.NATS_PASSWORDS["GATEWAY_NATS_PASSWORD"],
        max_reconnect_attempts=-1,
    )


# What a reader may meet on a node rejoining the cluster (JetStream unavailable while it
# catches up) or on one that just lost its leader: asked again, on a new connection.
_PASSING = (
    nats.js.errors.ServiceUnavailableError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
)
READ_PATIENCE_S = 30.0


async def count(urls: list[str], calls: Calls, stored_names: set[str]) -> Counts:
    """The counts, read again while the bus answers "not now" (for `READ_PATIENCE_S`)."""
    deadline = time.monotonic() + READ_PATIENCE_S
    while True:
        try:
            return await _count(urls, calls, stored_names)
        except _PASSING:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _count(urls: list[str], calls: Calls, stored_names: set[str]) -> Counts:
    nc = await connect_reader(urls)
    try:
        created = [
            incident_events.IncidentCreated.FromString(p).incident.name
            for s, p, _ in await messages(nc, "ICC_INCIDENT")
            if s == "icc.incident.created"
        ]
        dispatch = await messages(nc, "ICC_DISPATCH")
        try:
            dlq = (await nc.jetstream().stream_info("ICC_DLQ")).state.messages
        except nats.js.errors.NotFoundError:
            dlq = 0
    finally:
        await nc.close()
    acked = set(calls.acknowledged.values())
    pairs: Counter[tuple[str, str]] = Counter()
    holder: dict[str, str] = {}
    held_twice = 0
    dispatched: set[str] = set()
    for subject, payload, _ in dispatch:
        if subject == "icc.dispatch.assigned":
            msg = dispatch_events.UnitsAssigned.FromString(payload)
            dispatched.add(msg.incident)
            for a in msg.assignments:
                pairs[(msg.incident, a.unit)] += 1
                if holder.get(a.unit, msg.incident) != msg.incident:
                    held_twice += 1
                holder[a.unit] = msg.incident
        elif subject == "icc.dispatch.released":
            for a in dispatch_events.UnitsReleased.FromString(payload).assignments:
                holder.pop(a.unit, None)
        elif subject == "icc.dispatch.escalated":
            a = dispatch_events.AssignmentEscalated.FromString(payload).assignment
            holder.pop(a.unit, None)
    created_counts = Counter(created)
    return Counts(
        acknowledged=len(acked),
        stored=len(acked & stored_names),
        announced=len(acked & set(created)),
        announced_twice=sum(1 for n, c in created_counts.items() if c > 1),
        p1_undispatched=len(acked - dispatched),
        assignments_announced_twice=sum(1 for c in pairs.values() if c > 1),
        units_held_twice=held_twice,
        dead_letters=dlq,
        client_failures=dict(calls.failures),
    )


async def stored(target: str) -> set[str]:
    names: set[str] = set()
    async with partner_channel(target) as channel:
        stub = pb_grpc.IncidentServiceStub(channel)
        token = ""
        while True:
            page = await stub.ListIncidents(
                pb.ListIncidentsRequest(page_size=500, page_token=token), timeout=10
            )
            names.update(i.name for i in page.incidents)
            token = page.next_page_token
            if not token:
                return names


async def assigned_at(urls: list[str], names: set[str]) -> dict[str, float]:
    """When the bus stored the first assignment of each of `names` that has one (Unix
    seconds, the server's clock: this machine's), read again while the bus answers "not
    now" (for `READ_PATIENCE_S`)."""
    deadline = time.monotonic() + READ_PATIENCE_S
    while True:
        try:
            nc = await connect_reader(urls)
            try:
                dispatch = await messages(nc, "ICC_DISPATCH")
            finally:
                await nc.close()
            break
        except _PASSING:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    first: dict[str, float] = {}
    for subject, payload, stored_at in dispatch:
        if subject == "icc.dispatch.assigned":
            incident = dispatch_events.UnitsAssigned.FromString(payload).incident
            if incident in names:
                first.setdefault(incident, stored_at)
    return first
