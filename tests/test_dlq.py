"""Dead letters handled by a person: a poison event is listed, shown decoded, replayed after
the fix and another one discarded, each by `icc dlq`; replaying twice changes nothing
twice; every action is in the append-only audit; a supervisor does the same through the
ops service's DeadLetterService; the deployment's NATS users allow all of it.

The consumer is a real durable consumer of the bus library on a real nats-server, with an
inbox in a real SQLite file, recorded in the transaction of the event's effect, as the
services do.
"""

import asyncio
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.errors import APIError
from typer.testing import CliRunner, Result

from icc.incident.v1 import events_pb2, incident_pb2
from icc.ops.v1 import dead_letter_service_pb2 as pb
from icc.ops.v1 import dead_letter_service_pb2_grpc as pb_grpc
from icc_bus import (
    DLQ_STREAM,
    REPLAY_STREAM,
    ConsumerSpec,
    DurableConsumer,
    OutgoingEvent,
    PoisonMessage,
    ReceivedEvent,
    StreamSpec,
    build_headers,
    ensure_streams,
    nats_server_binary,
    publish_event,
)
from icc_bus.replay import replay_subject
from icc_cli import cluster
from icc_cli.main import app
from icc_ops import main as ops_main
from icc_ops.deadletters import DeadLetterQueue
from icc_rpc.errors import field_violations
from icc_testing import NatsServer, Pki, free_port

STREAM = StreamSpec(name="ICC_INCIDENT", subjects=["icc.incident.>"])
CONSUMER = "test-dispatch"
CREATED = events_pb2.IncidentCreated.DESCRIPTOR.full_name


@dataclass
class Dispatch:
    """A consumer with a bug: it cannot handle incidents of type TEST.BUG until fixed."""

    db: Path
    fixed: bool = False
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.execute(
                "CREATE TABLE inbox (consumer TEXT, event_id TEXT, PRIMARY KEY (consumer, event_id))"
            )
            conn.execute("CREATE TABLE handled (incident TEXT)")

    async def handle(self, event: ReceivedEvent) -> None:
        self.seen.append(event.event_id)
        created = events_pb2.IncidentCreated()
        try:
            created.ParseFromString(event.payload)
        except Exception as exc:
            raise PoisonMessage("payload is not an IncidentCreated") from exc
        if created.incident.type_code == "TEST.BUG" and not self.fixed:
            raise PoisonMessage("type TEST.BUG has no response plan")
        with sqlite3.connect(self.db) as conn:  # one transaction: inbox and effect
            claimed = conn.execute(
                "INSERT OR IGNORE INTO inbox VALUES (?, ?)", (CONSUMER, event.event_id)
            ).rowcount
            if claimed:
                conn.execute("INSERT INTO handled VALUES (?)", (created.incident.name,))

    def handled(self) -> list[str]:
        with sqlite3.connect(self.db) as conn:
            return [r[0] for r in conn.execute("SELECT incident FROM handled")]


@pytest_asyncio.fixture
async def dispatch(nats_client: Client, tmp_path: Path) -> AsyncIterator[Dispatch]:
    await ensure_streams(nats_client.jetstream(), [STREAM, DLQ_STREAM])
    consumer_state = Dispatch(tmp_path / "dispatch.db")
    consumer = DurableConsumer(
        nats_client, ConsumerSpec(STREAM.name, CONSUMER, "icc.incident.>"), consumer_state.handle
    )
    consumer.start()
    try:
        yield consumer_state
    finally:
        await consumer.stop()


def _created(event_id: str, incident: str, type_code: str) -> OutgoingEvent:
    message = events_pb2.IncidentCreated(
        incident=incident_pb2.Incident(name=f"incidents/{incident}", type_code=type_code)
    )
    return OutgoingEvent(
        event_id,
        "icc.incident.created",
        CREATED,
        message.SerializeToString(),
        build_headers(event_id, CREATED),
    )


async def _icc(nats: NatsServer, *args: str) -> Result:
    """`icc ARGS` as a person types it (in a thread: the command runs its own loop)."""
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, app, list(args), env={"ICC_NATS_URL": nats.url, "COLUMNS": "200"}
    )


async def _until(check: object, timeout_s: float = 15) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def _dead_letters(nc: Client) -> int:
    return int((await nc.jetstream().stream_info(DLQ_STREAM.name)).state.messages)


async def test_a_poison_event_is_listed_shown_replayed_after_the_fix_and_discarded(
    nats_server: NatsServer, nats_client: Client, dispatch: Dispatch
) -> None:
    js = nats_client.jetstream()
    await publish_event(js, _created("evt-bug", "inc-7", "TEST.BUG"))
    await _until(lambda: "evt-bug" in dispatch.seen)
    for _ in range(50):
        if await _dead_letters(nats_client) == 1:
            break
        await asyncio.sleep(0.1)

    listed = await _icc(nats_server, "dlq", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if CONSUMER in line)
    for text in ("icc.incident.created", "IncidentCreated", "poison: type TEST.BUG has no"):
        assert text in row, listed.output
    number = row.split()[0]

    shown = await _icc(nats_server, "dlq", "show", number)
    assert shown.exit_code == 0, shown.output
    for text in ("evt-bug", '"type_code": "TEST.BUG"', '"name": "incidents/inc-7"', "1"):
        assert text in shown.output

    dispatch.fixed = True  # the fix is deployed
    replayed = await _icc(nats_server, "dlq", "replay", number, "--as", "on-call Lan")
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed to {CONSUMER}" in replayed.output
    await _until(lambda: dispatch.handled() == ["incidents/inc-7"])
    assert await _dead_letters(nats_client) == 0

    # Replaying twice changes nothing twice: the dead letter is gone, the audit says why.
    again = await _icc(nats_server, "dlq", "replay", number)
    assert again.exit_code == 0, again.output
    assert "Nothing to do" in again.output and "replayed by on-call Lan" in again.output
    # ... and were the replay sent again (a crash before its removal, after the stream's
    # duplicate window), the consumer's inbox drops it.
    replay = await js.get_msg("ICC_REPLAY", 1)
    await js.publish(
        replay_subject(CONSUMER),
        replay.data or b"",
        headers={**(replay.headers or {}), "Nats-Msg-Id": "replay-sent-again"},
    )
    await _until(lambda: dispatch.seen.count("evt-bug") == 3)
    await asyncio.sleep(0.3)
    assert dispatch.handled() == ["incidents/inc-7"]

    # A payload that is no event at all: shown as such, and discarded.
    broken = _created("evt-garbage", "inc-8", "FIRE.STRUCTURE")
    await publish_event(
        js, OutgoingEvent(broken.event_id, broken.subject, CREATED, b"\xff\xfe", broken.headers)
    )
    await _until(lambda: "evt-garbage" in dispatch.seen)
    listed = await _icc(nats_server, "dlq", "list", "--consumer", CONSUMER)
    garbage = next(line.split()[0] for line in listed.output.splitlines() if "not an" in line)
    shown = await _icc(nats_server, "dlq", "show", garbage)
    assert "does not decode" in shown.output
    refused = await _icc(nats_server, "dlq", "discard", garbage, "--reason", " ")
    assert refused.exit_code == 2
    dropped = await _icc(nats_server, "dlq", "discard", garbage, "--reason", "not an event")
    assert dropped.exit_code == 0, dropped.output
    assert (await _icc(nats_server, "dlq", "list")).output.strip() == "No dead letters."
    gone = await _icc(nats_server, "dlq", "replay", garbage)
    assert gone.exit_code == 1 and "discarded by" in gone.output
    assert dispatch.handled() == ["incidents/inc-7"]

    audit = await _icc(nats_server, "dlq", "audit")
    lines = [line for line in audit.output.splitlines() if CONSUMER in line]
    assert len(lines) == 2, audit.output
    assert "on-call Lan" in lines[0] and "replayed" in lines[0] and "evt-bug" in lines[0]
    assert "discarded" in lines[1] and "not an event" in lines[1]
    with pytest.raises(APIError):  # append-only
        await js.delete_msg("ICC_AUDIT", 1)


async def test_a_supervisor_does_the_same_through_the_ops_service(
    nats_server: NatsServer, nats_client: Client, dispatch: Dispatch, pki: Pki
) -> None:
    from icc_bus import BusConfig

    await publish_event(nats_client.jetstream(), _created("evt-1", "inc-1", "TEST.BUG"))
    await _until(lambda: "evt-1" in dispatch.seen)
    ops = await ops_main.start(
        ops_main.Config("127.0.0.1:0", BusConfig(nats_server.url), pki.tls("ops"))
    )
    try:
        async with pki.channel(f"127.0.0.1:{ops.port}") as channel:
            stub = pb_grpc.DeadLetterServiceStub(channel)
            for _ in range(50):
                found = (
                    await stub.ListDeadLetters(pb.ListDeadLettersRequest(), timeout=5)
                ).dead_letters
                if found:
                    break
                await asyncio.sleep(0.1)
            (letter,) = found
            assert (letter.consumer, letter.subject, letter.event_id) == (
                CONSUMER,
                "icc.incident.created",
                "evt-1",
            )
            assert letter.delivery_count == 1 and letter.first_failure_time.seconds > 0
            got = (
                await stub.GetDeadLetter(pb.GetDeadLetterRequest(name=letter.name), timeout=5)
            ).dead_letter
            assert got.event["incident"]["type_code"] == "TEST.BUG"
            # Digits int() refuses, a made-up token: refused naming the field.
            odd_name = pb.GetDeadLetterRequest(name="deadLetters/²")
            for call, field in [
                (stub.GetDeadLetter(odd_name, timeout=5), "name"),
                (
                    stub.ListDeadLetters(pb.ListDeadLettersRequest(page_token="²"), timeout=5),
                    "page_token",
                ),
                (
                    stub.ListDeadLetters(pb.ListDeadLettersRequest(page_token="1"), timeout=5),
                    "page_token",
                ),
            ]:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert [v.field for v in field_violations(err.value)] == [field]
            paged = await stub.ListDeadLetters(pb.ListDeadLettersRequest(page_size=1), timeout=5)
            after = await stub.ListDeadLetters(
                pb.ListDeadLettersRequest(page_size=1, page_token=paged.next_page_token), timeout=5
            )
            assert list(after.dead_letters) == []  # the one letter was on the first page

            async with pki.channel(f"127.0.0.1:{ops.port}", "police-113") as partner:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await pb_grpc.DeadLetterServiceStub(partner).ReplayDeadLetter(
                        pb.ReplayDeadLetterRequest(name=letter.name), timeout=5
                    )
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stub.DiscardDeadLetter(
                    pb.DiscardDeadLetterRequest(name=letter.name),
                    timeout=5,
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "reason" in (bad.value.details() or "")

            dispatch.fixed = True
            await stub.ReplayDeadLetter(pb.ReplayDeadLetterRequest(name=letter.name), timeout=5)
            await _until(lambda: dispatch.handled() == ["incidents/inc-1"])
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await stub.ReplayDeadLetter(pb.ReplayDeadLetterRequest(name=letter.name), timeout=5)
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
            assert "replayed by command-center (rpc)" in (gone.value.details() or "")
    finally:
        await ops.stop()
    assert dispatch.handled() == ["incidents/inc-1"]


async def test_the_deployments_nats_users_allow_replays_and_nothing_more(tmp_path: Path) -> None:
    """`deploy/nats/nats.conf` on one node (its cluster block left out: only the users
    matter here): a service's consumer reads its replays as its own user, `ops` lists,
    replays and audits, and `ops` may not publish a fact of the city."""
    node, server = _deployment_nats(tmp_path)
    clients: list[Client] = []

    async def as_user(user: str) -> Client:
        password = cluster.NATS_PASSWORDS[f"{user.upper()}_NATS_PASSWORD"]
        client = await nats.connect(node.url, user=user, password=password)
        clients.append(client)
        return client

    try:
        await _until(lambda: httpx.get(node.healthz, timeout=1).status_code == 200)
        incidents = await as_user("incidents")
        await ensure_streams(incidents.jetstream(), [STREAM, DLQ_STREAM, REPLAY_STREAM])
        state = Dispatch(tmp_path / "dispatch.db")
        consumer = DurableConsumer(
            await as_user("dispatch"),
            ConsumerSpec(STREAM.name, "dispatch-incidents", "icc.incident.>"),
            state.handle,
        )
        consumer.start()
        try:
            await publish_event(incidents.jetstream(), _created("e-1", "i-1", "TEST.BUG"))
            await _until(lambda: "e-1" in state.seen)
            ops = await as_user("ops")
            queue = DeadLetterQueue(ops.jetstream())
            await queue.ensure()
            for _ in range(50):
                letters = await queue.list()
                if letters:
                    break
                await asyncio.sleep(0.1)
            state.fixed = True
            _, delivered = await queue.replay(letters[0].sequence, "tester")
            assert delivered
            await _until(lambda: state.handled() == ["incidents/i-1"])
            assert [r.outcome for r in await queue.audit.history()] == ["replayed"]
            with pytest.raises(NatsError):  # no facts of the city from `ops`
                await ops.jetstream().publish("icc.incident.created", b"", timeout=1)
        finally:
            await consumer.stop()
    finally:
        for client in clients:
            await client.close()
        server.terminate()
        server.wait(timeout=10)


def _deployment_nats(tmp_path: Path) -> tuple[cluster.NatsNode, subprocess.Popen[bytes]]:
    node = cluster.NatsNode(
        "nats-1", "127.0.0.1", free_port(), free_port(), free_port(), tmp_path / "store"
    )
    conf = tmp_path / "nats.conf"
    conf.write_text(cluster.single_node_config(cluster.deployment_nats_conf().read_text(), node))
    with (tmp_path / "nats.log").open("ab") as log:
        server = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            env=cluster.nats_env(node),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return node, server
