"""A hosted service: read from the environment, started part by part, stopped in order."""

import contextlib
from dataclasses import dataclass

import grpc
import pytest

from icc_bus import BusConfig, StreamSpec
from icc_host import Hosted, ServiceConfig, open_bus, serve_grpc
from icc_kernel.errors import NotFound
from icc_testing import NatsServer

ECHO = "/test.Echo/Say"


class Echo:
    async def say(self, request: bytes, context: object) -> bytes:
        if request == b"missing":
            raise NotFound("things/1")
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
    assert config == EchoConfig(
        "0.0.0.0:6000", "sqlite+aiosqlite:///echo.db", BusConfig("nats://bus:4222"), False, "chào"
    )
    assert ServiceConfig.from_env("echo", "127.0.0.1:5999", {}).address == "127.0.0.1:5999"


async def test_a_hosted_service_answers_domain_errors_and_stops_in_order(
    nats_server: NatsServer,
) -> None:
    closed: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        nc = await open_bus(
            stack, BusConfig(nats_server.url), "echo", [StreamSpec("ECHO", ["e.>"])]
        )
        stack.callback(closed.append, "opened last")
        server = await serve_grpc("127.0.0.1:0", Echo(), add_echo, "test.Echo")
        hosted = Hosted(server, stack.pop_all())
    assert (await nc.jetstream().stream_info("ECHO")).config.name == "ECHO"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{hosted.port}") as channel:
        say = channel.unary_unary(ECHO)
        assert await say(b"hi", timeout=5) == b"hi"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await say(b"missing", timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    await hosted.stop()
    assert closed == ["opened last"]
    assert nc.is_closed


async def test_a_failed_start_closes_what_it_opened(nats_server: NatsServer) -> None:
    first = await serve_grpc("127.0.0.1:0", Echo(), add_echo, "test.Echo")
    try:
        with pytest.raises(OSError, match="in use"):
            async with contextlib.AsyncExitStack() as stack:
                nc = await open_bus(stack, BusConfig(nats_server.url), "echo")
                await serve_grpc(f"127.0.0.1:{first.port}", Echo(), add_echo, "test.Echo")
        assert nc.is_closed
    finally:
        await first.stop(0)
