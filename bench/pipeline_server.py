"""The bare pipeline's server, as its own process: a gRPC handler that inserts and commits
one row (SQLAlchemy async Core, aiosqlite, WAL) and publishes one JetStream event,
awaiting the ack, before it answers.

The request is `<request id>|<payload>`; the id becomes the `Nats-Msg-Id` and the reply.

    python -m bench.pipeline_server --port P --nats-url URL --db PATH --subject SUBJ
"""

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import nats
import uvloop
from sqlalchemy import insert

from bench.bytes_server import serve_until_stopped
from bench.sqlite_engine import create_tables, rows, sqlite_engine

SERVICE = "bench.Pipeline"
METHOD = f"/{SERVICE}/Create"


async def serve(args: argparse.Namespace) -> None:
    engine = sqlite_engine(Path(args.db), pool_size=args.db_connections)
    await create_tables(engine)
    nc = await nats.connect(args.nats_url, name="bench-pipeline")
    js = nc.jetstream()

    async def create(request: bytes, _context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        request_id = request.split(b"|", 1)[0].decode()
        async with engine.begin() as conn:
            await conn.execute(
                insert(rows).values(
                    request_id=request_id, payload=request, created_at=datetime.now(UTC)
                )
            )
        await js.publish(args.subject, request, headers={"Nats-Msg-Id": request_id})
        return request_id.encode()

    await serve_until_stopped(args.port, SERVICE, {"Create": create})
    await nc.drain()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--db-connections", type=int, default=1)
    uvloop.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
