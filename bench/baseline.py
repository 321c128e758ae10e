"""The bare-stack floor: what gRPC, SQLite, JetStream and their plain combination do on
this machine without any of ICC's code. Each function is one repetition of one harness
and returns flat named figures (see `bench.report` for what they mean); the processes
it starts through `procs` are ended by the caller.
"""

import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

import grpc
import nats
from sqlalchemy import DateTime, LargeBinary, String, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench import echo_server, pipeline_server
from bench.incident_requests import create_request
from bench.load import (
    EventWatcher,
    call_and_event_figures,
    concurrent,
    paced_figures,
    prefixed,
    sequential,
    warm_up,
    watch_consumer,
)
from bench.procs import Processes, wait_channel_ready
from bench.settings import Settings
from bench.sqlite_engine import PRAGMAS, create_tables, rows, sqlite_engine
from bench.stats import p50_ms, p99_ms, rate
from icc_testing import free_port

CALL_TIMEOUT_S = 10.0
# A unary method without (de)serializers: bytes in, bytes out.
Bytes: TypeAlias = "grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]"
PAYLOAD = b"x" * 200


# --- A1: gRPC aio unary echo -------------------------------------------------------------


async def grpc_echo(procs: Processes, settings: Settings) -> dict[str, float]:
    port = free_port()
    server = procs.python("echo-server", ["-m", "bench.echo_server", "--port", str(port)])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await wait_channel_ready(channel, server, settings.start_timeout_s)
        echo: Bytes = channel.unary_unary(echo_server.METHOD)

        async def call() -> str:
            await echo(PAYLOAD, timeout=CALL_TIMEOUT_S)
            return ""

        await warm_up(call, settings.warmup)
        seq = await sequential(call, settings.sequential)
        conc = await concurrent(call, settings.concurrent, settings.clients)
    return prefixed("echo.seq", seq) | prefixed("echo.conc", conc)


# --- A2: SQLite, one row per commit, WAL --------------------------------------------------


def _sqlite_plain(path: Path, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            conn.execute(pragma)
        conn.execute(
            "CREATE TABLE rows (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT UNIQUE"
            " NOT NULL, payload BLOB NOT NULL, created_at TEXT NOT NULL)"
        )
        start = time.perf_counter_ns()
        for _ in range(count):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO rows (request_id, payload, created_at) VALUES (?, ?, ?)",
                (uuid.uuid4().hex, PAYLOAD, datetime.now(UTC).isoformat()),
            )
            conn.execute("COMMIT")
        return rate(count, time.perf_counter_ns() - start)
    finally:
        conn.close()


async def _sqlite_core(path: Path, count: int) -> float:
    engine = sqlite_engine(path)
    try:
        await create_tables(engine)
        start = time.perf_counter_ns()
        for _ in range(count):
            async with engine.begin() as conn:
                await conn.execute(
                    insert(rows).values(
                        request_id=uuid.uuid4().hex, payload=PAYLOAD, created_at=datetime.now(UTC)
                    )
                )
        return rate(count, time.perf_counter_ns() - start)
    finally:
        await engine.dispose()


class _Base(DeclarativeBase):
    pass


class _OrmRow(_Base):
    __tablename__ = "orm_rows"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def _sqlite_orm(path: Path, count: int) -> float:
    engine = sqlite_engine(path)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        start = time.perf_counter_ns()
        for _ in range(count):
            async with sessions() as session:
                session.add(
                    _OrmRow(
                        request_id=uuid.uuid4().hex, payload=PAYLOAD, created_at=datetime.now(UTC)
                    )
                )
                await session.commit()
        return rate(count, time.perf_counter_ns() - start)
    finally:
        await engine.dispose()


async def sqlite_commits(procs: Processes, settings: Settings) -> dict[str, float]:
    directory = procs.fresh_dir("sqlite")
    return {
        "sqlite.plain_rows_s": _sqlite_plain(directory / "plain.db", settings.sequential),
        "sqlite.core_rows_s": await _sqlite_core(directory / "core.db", settings.sequential),
        "sqlite.orm_rows_s": await _sqlite_orm(directory / "orm.db", settings.sequential),
    }


# --- A3: JetStream publish with ack, sequential, with Nats-Msg-Id ------------------------


async def jetstream_publish(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-js")
    nc = await nats.connect(server.url, name="bench-js")
    try:
        js = nc.jetstream()
        await js.add_stream(name="BENCH_JS", subjects=["bench.js"])
        for _ in range(settings.warmup):
            await js.publish("bench.js", PAYLOAD, headers={"Nats-Msg-Id": uuid.uuid4().hex})
        latencies: list[int] = []
        start = time.perf_counter_ns()
        for _ in range(settings.sequential):
            t0 = time.perf_counter_ns()
            await js.publish("bench.js", PAYLOAD, headers={"Nats-Msg-Id": uuid.uuid4().hex})
            latencies.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter_ns() - start
    finally:
        await nc.close()
    return {
        "js.seq.msgs_s": rate(settings.sequential, elapsed),
        "js.seq.p50_ms": p50_ms(latencies),
        "js.seq.p99_ms": p99_ms(latencies),
    }


# --- A4: the bare pipeline: gRPC -> insert+commit -> JetStream -> consumer process -------

PIPE_STREAM = "BENCH_PIPE"
PIPE_SUBJECT = "bench.pipe.created"


async def bare_pipeline(procs: Processes, settings: Settings) -> dict[str, float]:
    server = procs.nats_server("nats-pipeline")
    nc = await nats.connect(server.url, name="bench-driver")
    watcher = EventWatcher()
    try:
        js = nc.jetstream()
        await js.add_stream(name=PIPE_STREAM, subjects=["bench.pipe.>"])
        port = free_port()
        db = procs.fresh_dir("pipeline-db") / "pipeline.db"
        pipeline = procs.python(
            "pipeline-server",
            [
                "-m",
                "bench.pipeline_server",
                "--port",
                str(port),
                "--nats-url",
                server.url,
                "--db",
                str(db),
                "--subject",
                PIPE_SUBJECT,
            ],
        )
        await watch_consumer(procs, nc, watcher, settings, PIPE_STREAM, PIPE_SUBJECT, "msgid")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await wait_channel_ready(channel, pipeline, settings.start_timeout_s)
            create: Bytes = channel.unary_unary(pipeline_server.METHOD)
            rng = random.Random(7)

            async def call() -> str:
                # The same bytes as a CreateIncident request, behind the id.
                request_id = uuid.uuid4().hex
                body = create_request(rng).SerializeToString()
                await create(request_id.encode() + b"|" + body, timeout=CALL_TIMEOUT_S)
                return request_id

            figures = await call_and_event_figures(call, watcher, settings)
            figures |= await paced_figures(call, watcher, settings)
    finally:
        await watcher.stop()
        await nc.close()
    return prefixed("pipe", figures)
