"""A bare gRPC aio echo server (generic handler, bytes in and out), as its own process.

python -m bench.echo_server --port P
"""

import argparse
import asyncio
import signal
from typing import Any

import grpc
import uvloop

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def echo(request: bytes, _context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


async def serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
