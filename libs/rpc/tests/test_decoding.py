"""Requests whose bytes are no valid message, on every kind of RPC: INVALID_ARGUMENT in
plain words, never UNKNOWN or INTERNAL with an exception's class."""

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc_rpc import ANYONE, FieldViolation, Policy, RpcError, start_server
from icc_rpc.errors import field_violations
from icc_testing import Pki

Request = health_pb2.HealthCheckRequest
Reply = health_pb2.HealthCheckResponse
SERVING = health_pb2.HealthCheckResponse.SERVING
# A string field holding bad UTF-8; a length past the end; a field number 0.
UNDECODABLE = [b"\x0a\x02\xff\xfe", b"\x0a\xff\xff\xff\xff\x0f", b"\x00"]


POLICY = Policy(
    "test.Decode",
    {m: ANYONE for m in ("Unary", "ServerStream", "Written", "ClientStream", "Both")},
)


def _register(server: grpc.aio.Server) -> None:
    async def unary(request: Request, context: object) -> Reply:
        return Reply(status=SERVING)

    async def server_stream(request: Request, context: object) -> AsyncIterator[Reply]:
        yield Reply(status=SERVING)

    async def written(request: Request, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        await context.write(Reply(status=SERVING))

    async def client_stream(requests: AsyncIterator[Request], context: object) -> Reply:
        async for _ in requests:
            pass
        return Reply(status=SERVING)

    async def both(requests: AsyncIterator[Request], context: object) -> AsyncIterator[Reply]:
        async for _ in requests:
            yield Reply(status=SERVING)

    kw = {
        "request_deserializer": Request.FromString,
        "response_serializer": Reply.SerializeToString,
    }
    handler = grpc.method_handlers_generic_handler(
        "test.Decode",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, **kw),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, **kw),
            "Written": grpc.unary_stream_rpc_method_handler(written, **kw),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, **kw),
            "Both": grpc.stream_stream_rpc_method_handler(both, **kw),
        },
    )
    server.add_generic_rpc_handlers((handler,))


def _refused(err: grpc.aio.AioRpcError) -> None:
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    details = err.details() or ""
    assert "grpc.health.v1.HealthCheckRequest" in details
    assert "Error" not in details and "class" not in details
    [violation] = field_violations(err)
    assert violation.field == "request"


async def test_undecodable_requests_are_invalid_arguments_on_every_kind_of_rpc(pki: Pki) -> None:
    server = await start_server(
        "127.0.0.1:0", _register, ["test.Decode"], tls=pki.tls("incidents"), policies=[POLICY]
    )
    valid = Request(service="x").SerializeToString()
    try:
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{server.port}", pki.credentials()
        ) as channel:
            unary = channel.unary_unary("/test.Decode/Unary")
            assert await unary(valid, timeout=5)
            for name in ("ServerStream", "Written"):
                stream = channel.unary_stream(f"/test.Decode/{name}")
                assert [r async for r in stream(valid, timeout=5)]
            client_stream = channel.stream_unary("/test.Decode/ClientStream")
            assert await client_stream(iter([valid, valid]), timeout=5)
            both = channel.stream_stream("/test.Decode/Both")
            assert [r async for r in both(iter([valid]), timeout=5)]
            for body in UNDECODABLE:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await unary(body, timeout=5)
                _refused(err.value)
                for name in ("ServerStream", "Written"):
                    with pytest.raises(grpc.aio.AioRpcError) as err:
                        stream = channel.unary_stream(f"/test.Decode/{name}")
                        _ = [r async for r in stream(body, timeout=5)]
                    _refused(err.value)
                # In a stream, at the first bad message, after good ones.
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await client_stream(iter([valid, body, valid]), timeout=5)
                _refused(err.value)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    _ = [r async for r in both(iter([valid, body]), timeout=5)]
                _refused(err.value)
    finally:
        await server.stop(0)


async def test_health_watch_answers_and_list_is_unimplemented_not_internal(pki: Pki) -> None:
    server = await start_server(
        "127.0.0.1:0", _register, ["test.Decode"], tls=pki.tls("incidents"), policies=[POLICY]
    )
    try:
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{server.port}", pki.credentials()
        ) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(Request(service="test.Decode"), timeout=5)
            assert (await watch.read()).status == SERVING
            watch.cancel()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await health.List(health_pb2.HealthListRequest(), timeout=5)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)


def test_an_answer_quotes_a_bounded_part_of_what_it_was_sent() -> None:
    huge = "🚒" * 100_000
    error = RpcError.invalid([FieldViolation(f"units[{n}]", huge) for n in range(1000)])
    status = error.to_status()
    assert len(status.details.encode()) <= 600
    trailer = dict(status.trailing_metadata)["grpc-status-details-bin"]
    assert len(trailer) < 4_000  # with the message, well within gRPC's 8 KiB of headers
