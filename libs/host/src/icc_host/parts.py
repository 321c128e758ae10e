"""The parts a service opens at start, each closed by the start-up's exit stack.

A service's `start` opens them inside `async with AsyncExitStack() as stack:` and ends
with `Hosted(server, stack.pop_all())`: if anything fails on the way, the stack closes
what was opened, in reverse; once started, `Hosted.stop` does.
"""

import contextlib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

import grpc
from nats.aio.client import Client
from sqlalchemy import Table

from icc_bus import (
    DECLARE_TIMEOUT_S,
    DLQ_STREAM,
    REPLAY_STREAM,
    BusConfig,
    StreamSpec,
    connect,
    ensure_streams,
)
from icc_bus.faults import is_transient
from icc_host.config import ServiceConfig
from icc_host.health import HealthWatch, Stuck
from icc_rpc import GrpcServer, Policy, TlsConfig, start_server
from icc_storage import Database, Writer, upgrade

S = TypeVar("S")
# The grace a stopping server gives the calls it is answering.
STOP_GRACE_S = 3.0


async def open_database(stack: contextlib.AsyncExitStack, url: str, package: str) -> Database:
    """The service's database, migrated to the head of `<package>/migrations`."""
    db = Database(url)
    stack.push_async_callback(db.dispose)
    await upgrade(db, Path(str(resources.files(package) / "migrations")))
    return db


async def _drain(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


async def open_bus(
    stack: contextlib.AsyncExitStack,
    config: BusConfig,
    name: str,
    streams: Sequence[StreamSpec] = (),
) -> Client:
    """Connected to NATS as `name` (drained at stop); the service's `streams`, if any,
    exist with the dead-letter and replay streams beside them."""
    nc = await connect(config, name=name)
    stack.push_async_callback(_drain, nc)
    if streams:
        await ensure_streams(
            nc.jetstream(timeout=DECLARE_TIMEOUT_S),
            [*streams, DLQ_STREAM, REPLAY_STREAM],
            replicas=config.replicas,
        )
    return nc


def start_writer(
    stack: contextlib.AsyncExitStack,
    db: Database,
    outbox: Table,
    nc: Client,
    config: ServiceConfig,
    *,
    inline_max_jobs: int = 2,
) -> Writer:
    """The database's one writer and its outbox relay (`icc_storage.Writer`)."""
    writer = Writer.start(
        db,
        outbox,
        nc.jetstream(),
        relay_enabled=config.relay_enabled,
        inline_max_jobs=inline_max_jobs,
    )
    stack.push_async_callback(writer.stop)
    return writer


async def serve_grpc(
    address: str,
    servicer: S,
    add_servicer: Callable[[S, grpc.aio.Server], None],
    policy: Policy,
    tls: TlsConfig | None,
) -> GrpcServer:
    """The servicer on a gRPC server with mutual TLS, its policy, health and reflection
    (`icc_rpc.start_server`); the kernel's domain errors are answered through
    `icc_rpc.errors.to_rpc_error`, a passing fault (`icc_bus.faults`) with UNAVAILABLE and
    a retry hint."""
    return await start_server(
        address,
        functools.partial(add_servicer, servicer),
        [policy.service],
        tls=tls,
        policies=[policy],
        transient=is_transient,
    )


def watch_health(
    stack: contextlib.AsyncExitStack,
    server: GrpcServer,
    service_name: str,
    db: Database,
    nc: Client,
    workers: Sequence[Stuck] = (),
) -> None:
    """The server's health follows the database, the bus and `workers` (the service's
    consumers): NOT_SERVING while any is wrong (`icc_host.health`)."""
    watch = HealthWatch(server, service_name, db, nc, workers)
    watch.start()
    stack.push_async_callback(watch.stop)


@dataclass
class Hosted:
    """A started service: its gRPC server, and everything else it opened."""

    server: GrpcServer
    # Closed in the reverse of the order it was opened in.
    resources: contextlib.AsyncExitStack

    @property
    def port(self) -> int:
        return self.server.port

    async def stop(self) -> None:
        await self.server.stop(grace_s=STOP_GRACE_S)
        await self.resources.aclose()
