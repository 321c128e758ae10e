"""Streams declared by replicas starting together, against real nats-servers: on a server
or a three-node cluster just started, two declarers at once both succeed; JetStream's
passing refusals are met by declaring again, within a bound; the rest fail at once."""

import asyncio
import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import StreamConfig, StreamInfo
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from icc_bus import (
    DECLARE_TIMEOUT_S,
    DLQ_STREAM,
    REPLAY_STREAM,
    StreamNotDeclared,
    StreamSpec,
    ensure_streams,
    nats_server_binary,
)
from icc_testing.nats_server import NatsServer, free_port

SPECS = [
    StreamSpec(name="ICC_ONE", subjects=["icc.one.>"]),
    StreamSpec(name="ICC_TWO", subjects=["icc.two.>"]),
    DLQ_STREAM,
    REPLAY_STREAM,
]
# As services declare (`icc_host.parts.open_bus`).
API_TIMEOUT_S = DECLARE_TIMEOUT_S


@contextlib.asynccontextmanager
async def clients(urls: list[str], n: int) -> AsyncIterator[list[Client]]:
    conns = [await nats.connect(urls, connect_timeout=5) for _ in range(n)]
    try:
        yield conns
    finally:
        for nc in conns:
            await nc.close()


async def test_two_declarers_at_once_on_a_server_just_started(nats_server: NatsServer) -> None:
    async with clients([nats_server.url], 2) as (a, b):
        await asyncio.gather(
            ensure_streams(a.jetstream(timeout=API_TIMEOUT_S), SPECS),
            ensure_streams(b.jetstream(timeout=API_TIMEOUT_S), SPECS),
        )
        names = {s.config.name for s in await a.jetstream().streams_info()}
    assert names == {s.name for s in SPECS}


@pytest.fixture
def three_nodes(tmp_path: Path) -> Iterator[list[str]]:
    """A three-node JetStream cluster, started: each node listens, none waited for."""
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(3):
            store = tmp_path / f"n{i + 1}"
            store.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        nats_server_binary(),
                        *("-a", "127.0.0.1", "-p", str(client_ports[i])),
                        *("-n", f"n{i + 1}", "--cluster_name", "icc-test"),
                        *("--cluster", f"nats://127.0.0.1:{route_ports[i]}", "--routes", routes),
                        *("-js", "-sd", str(store), "-l", str(store / "nats.log")),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for proc, port in zip(procs, client_ports, strict=True):
            _listening(proc, port)
        yield [f"nats://127.0.0.1:{p}" for p in client_ports]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("nats-server exited at start-up")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nats-server did not listen on {port}")


@pytest.mark.timeout(90)
async def test_two_declarers_at_once_on_a_cluster_just_formed(three_nodes: list[str]) -> None:
    """As two replicas of a service do when the deployment starts: before the cluster
    has a meta leader, with three replicas of each stream."""
    async with clients(three_nodes[:1], 1) as (a,), clients(three_nodes[1:2], 1) as (b,):
        await asyncio.gather(
            ensure_streams(a.jetstream(timeout=API_TIMEOUT_S), SPECS, replicas=3),
            ensure_streams(b.jetstream(timeout=API_TIMEOUT_S), SPECS, replicas=3),
        )
        infos = await a.jetstream().streams_info()
    assert {s.config.name: s.config.num_replicas for s in infos} == {s.name: 3 for s in SPECS}


class CreatedMeanwhile(JetStreamContext):
    """Looks before another replica creates the stream (with its own, older config) and
    adds after."""

    def __init__(self, nc: Client, other: StreamConfig) -> None:
        super().__init__(nc)
        self.other = other

    async def stream_info(self, name: str, subjects_filter: str | None = None) -> StreamInfo:
        if self.other is not None:
            await self.add_stream(self.other)
            self.other = None
            raise NotFoundError(code=404, err_code=10059, description="stream not found")
        return await super().stream_info(name, subjects_filter)


async def test_a_stream_created_between_look_and_add_is_brought_to_the_config(
    nats_client: Client,
) -> None:
    spec = SPECS[0]
    older = StreamConfig(name=spec.name, subjects=spec.subjects, max_age=3600)
    await ensure_streams(CreatedMeanwhile(nats_client, older), [spec])
    info = await nats_client.jetstream().stream_info(spec.name)
    assert info.config.max_age == spec.max_age_s


class Refusing(JetStreamContext):
    """JetStream's API refusing its first `refusals` requests as it does while a cluster
    forms."""

    def __init__(self, nc: Client, refusals: list[Exception]) -> None:
        super().__init__(nc)
        self.refusals = refusals

    async def stream_info(self, name: str, subjects_filter: str | None = None) -> StreamInfo:
        if self.refusals:
            raise self.refusals.pop(0)
        return await super().stream_info(name, subjects_filter)


async def test_passing_refusals_are_declared_again_with_a_warning_each(
    nats_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    refusals: list[Exception] = [
        NatsTimeoutError(),
        ServiceUnavailableError(),
        BadRequestError(code=400, err_code=10005, description="no suitable peers for placement"),
    ]
    with caplog.at_level(logging.WARNING, logger="icc_bus.streams"):
        await ensure_streams(Refusing(nats_client, refusals), SPECS[:1])
    assert refusals == []
    assert (await nats_client.jetstream().stream_info("ICC_ONE")).config.name == "ICC_ONE"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("ICC_ONE" in w for w in warnings)


async def test_a_refusal_that_outlasts_the_bound_names_the_stream(nats_client: Client) -> None:
    forever = Refusing(nats_client, [NatsTimeoutError() for _ in range(1000)])
    with pytest.raises(StreamNotDeclared, match=r"stream ICC_ONE not declared within 0\.3 s"):
        await ensure_streams(forever, SPECS[:1], within_s=0.3)


async def test_any_other_refusal_fails_at_once(
    nats_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await ensure_streams(nats_client.jetstream(), SPECS[:1])
    overlapping = StreamSpec(name="ICC_OVERLAP", subjects=["icc.one.>"])
    with caplog.at_level(logging.WARNING, logger="icc_bus.streams"), pytest.raises(BadRequestError):
        await ensure_streams(nats_client.jetstream(), [overlapping])
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
