"""A hosted service: read from the environment, started part by part, stopped in order."""

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc_bus import BusConfig, StreamSpec
from icc_host import Hosted, ServiceConfig, open_bus, serve_grpc, watch_health
from icc_host import health as health_module
from icc_kernel.errors import NotFound, Transient
from icc_rpc import ANYONE, Policy, TlsConfig
from icc_rpc.errors import retry_delay_s
from icc_storage import Database
from icc_testing import NatsServer, Pki

ECHO = "/test.Echo/Say"
POLICY = Policy("test.Echo", {"Say": ANYONE})


class Echo:
    async def say(self, request: bytes, context: object) -> bytes:
        if request == b"missing":
            raise NotFound("things/1")
        if request == b"database away":
            raise ConnectionRefusedError(111, "connection refused")
        if request == b"said away":
            raise Transient("the echo database", retry_after_s=2.0)
        if request == b"bug":
            raise KeyError("a bug")
        return request


def add_echo(servicer: Echo, server: grpc.aio.Server) -> None:
    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(servicer.say)}
    )
    server.add_generic_rpc_handlers((handler,))


@dataclass(frozen=True)
class EchoConfig(ServiceConfig):
    greeting: str = "xin chào"


def test_the_configuration_comes_from_the_services_variables() -> None:
    env = {
        "ICC_ECHO_ADDR": "0.0.0.0:6000",
        "ICC_ECHO_DB_URL": "sqlite+aiosqlite:///echo.db",
        "ICC_NATS_URL": "nats://bus:4222",
        "ICC_OUTBOX_RELAY": "off",
    }
    config = EchoConfig.from_env("echo", "127.0.0.1:5999", env, greeting="chào")
    tls = TlsConfig(Path("var/pki/ca.crt"), Path("var/pki/echo.crt"), Path("var/pki/echo.key"))
    assert config == EchoConfig(
        "0.0.0.0:6000",
        "sqlite+aiosqlite:///echo.db",
        BusConfig("nats://bus:4222"),
        False,
        "chào",
        tls=tls,
    )
    assert ServiceConfig.from_env("echo", "127.0.0.1:5999", {}).address == "127.0.0.1:5999"


async def test_a_hosted_service_answers_domain_errors_and_stops_in_order(
    pki: Pki,
    nats_server: NatsServer,
) -> None:
    closed: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        nc = await open_bus(
            stack, BusConfig(nats_server.url), "echo", [StreamSpec("ECHO", ["e.>"])]
        )
        stack.callback(closed.append, "opened last")
        server = await serve_grpc("127.0.0.1:0", Echo(), add_echo, POLICY, pki.tls("incidents"))
        hosted = Hosted(server, stack.pop_all())
    assert (await nc.jetstream().stream_info("ECHO")).config.name == "ECHO"
    async with pki.channel(f"127.0.0.1:{hosted.port}") as channel:
        say = channel.unary_unary(ECHO)
        assert await say(b"hi", timeout=5) == b"hi"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await say(b"missing", timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    await hosted.stop()
    assert closed == ["opened last"]
    assert nc.is_closed


async def test_a_failed_start_closes_what_it_opened(pki: Pki, nats_server: NatsServer) -> None:
    first = await serve_grpc("127.0.0.1:0", Echo(), add_echo, POLICY, pki.tls("incidents"))
    try:
        with pytest.raises(OSError, match="in use"):
            async with contextlib.AsyncExitStack() as stack:
                nc = await open_bus(stack, BusConfig(nats_server.url), "echo")
                await serve_grpc(
                    f"127.0.0.1:{first.port}", Echo(), add_echo, POLICY, pki.tls("incidents")
                )
        assert nc.is_closed
    finally:
        await first.stop(0)


async def test_a_passing_fault_is_answered_unavailable_with_a_retry_hint(pki: Pki) -> None:
    server = await serve_grpc("127.0.0.1:0", Echo(), add_echo, POLICY, pki.tls("incidents"))
    try:
        async with pki.channel(f"127.0.0.1:{server.port}") as channel:
            say = channel.unary_unary(ECHO)
            for request, delay in ((b"database away", 1.0), (b"said away", 2.0)):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await say(request, timeout=5)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
                assert retry_delay_s(err.value) == delay
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await say(b"bug", timeout=5)
            assert err.value.code() == grpc.StatusCode.INTERNAL
            assert retry_delay_s(err.value) is None
    finally:
        await server.stop(0)


class Work:
    """A consumer as health sees it: stuck or not."""

    def __init__(self) -> None:
        self.is_stuck = False

    def stuck(self) -> bool:
        return self.is_stuck


async def test_health_follows_the_bus_the_database_and_stuck_work(
    pki: Pki, nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ready (the service's name) follows the bus, the database and stuck work; alive
    (the overall status, what a liveness probe asks) only stuck work, which a restart
    cures."""
    monkeypatch.setattr(health_module, "CHECK_EVERY_S", 0.1)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'echo.db'}")
    work = Work()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(db.dispose)
        nc = await open_bus(stack, BusConfig(nats_server.url), "echo")
        server = await serve_grpc("127.0.0.1:0", Echo(), add_echo, POLICY, pki.tls("incidents"))
        stack.push_async_callback(server.stop, 0)
        watch_health(stack, server, "test.Echo", db, nc, [work])
        channel = pki.channel(f"127.0.0.1:{server.port}")
        stack.push_async_callback(channel.close)
        stub = health_pb2_grpc.HealthStub(channel)
        serving, not_serving = (
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        )

        async def status(service: str) -> int:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            return int(reply.status)

        async def becomes(ready: int, alive: int) -> None:
            for _ in range(100):
                if (await status("test.Echo"), await status("")) == (ready, alive):
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"health never became ready={ready}, alive={alive}")

        await becomes(serving, serving)
        nats_server.stop()
        await becomes(not_serving, serving)
        nats_server.start()
        await becomes(serving, serving)
        work.is_stuck = True
        await becomes(not_serving, not_serving)
        work.is_stuck = False
        await becomes(serving, serving)
    away = Database("postgresql+asyncpg://postgres@127.0.0.1:9/postgres")
    try:
        assert await health_module.problems(away, nc, []) == ["bus", "database"]
    finally:
        await away.dispose()
