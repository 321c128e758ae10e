"""A bare gRPC aio server of raw-bytes unary methods (generic handlers, no protobuf), run
in a child process of its own until SIGTERM or SIGINT."""

import asyncio
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc

Method = Callable[[bytes, "grpc.aio.ServicerContext[Any, Any]"], Awaitable[bytes]]


async def serve_until_stopped(port: int, service: str, methods: Mapping[str, Method]) -> None:
    server = grpc.aio.server()
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        name: grpc.unary_unary_rpc_method_handler(m) for name, m in methods.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)
