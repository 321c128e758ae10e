"""A bare gRPC aio echo server (generic handler, bytes in and out), as its own process.

python -m bench.echo_server --port P
"""

import argparse
from typing import Any

import grpc
import uvloop

from bench.bytes_server import serve_until_stopped

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def echo(request: bytes, _context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


async def serve(port: int) -> None:
    await serve_until_stopped(port, SERVICE, {"Echo": echo})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
