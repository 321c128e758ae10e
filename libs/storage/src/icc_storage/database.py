"""Async engines from a URL: SQLite (WAL, immediate write transactions) or PostgreSQL."""

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from icc_kernel.errors import Transient

_READ_ONLY = "icc_read_only"
# PostgreSQL: every connection's work is bounded, so no transaction can hold others
# hostage (a replica frozen inside one kept a row lock that stalled every other replica).
# A statement runs at most STATEMENT_TIMEOUT, waits for a lock at most LOCK_TIMEOUT; a
# session idle inside a transaction for IDLE_IN_TRANSACTION_TIMEOUT is ended by the
# server, its locks released. The client gives up on a statement without an answer
# after COMMAND_TIMEOUT_S (a network cut answers nothing; just above the statement
# timeout, so a server that answers cancels first), on a connection attempt after
# CONNECT_TIMEOUT_S and on a free pooled connection after POOL_TIMEOUT_S. Each is a
# passing fault (`icc_storage.faults`): the work is tried again. Together they keep a
# request that meets a cut under a caller's 10 s deadline: it is answered UNAVAILABLE,
# not DEADLINE_EXCEEDED (statements here take milliseconds; seconds mean trouble).
STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 3_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000
COMMAND_TIMEOUT_S = 6.0
CONNECT_TIMEOUT_S = 3.0
POOL_TIMEOUT_S = 5.0
POSTGRES_BOUNDS = {
    "statement_timeout": str(STATEMENT_TIMEOUT_MS),
    "lock_timeout": str(LOCK_TIMEOUT_MS),
    "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
}
# An inline write waits this long for another connection's write lock (blocking the
# event loop), then the batcher tries again through the driver's thread.
INLINE_WRITE_WAIT_MS = 50


def database_url_from_env(service: str, env: Mapping[str, str] = os.environ) -> str:
    """`ICC_<SERVICE>_DB_URL`, else a SQLite file `var/<service>.db` under `ICC_VAR_DIR`."""
    url = env.get(f"ICC_{service.upper()}_DB_URL")
    if url:
        return url
    var_dir = Path(env.get("ICC_VAR_DIR", "var"))
    return f"sqlite+aiosqlite:///{var_dir / f'{service}.db'}"


def _switch_to_wal(cursor: Any, wait_s: float) -> None:
    """WAL mode (kept by the file once set). Replicas opening a new file at the same
    moment can get "database is locked" here even with a busy timeout (seen once in
    some dozens of runs of the concurrent-migration test): tried again, for `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_setup(engine: Engine, busy_timeout_ms: int = 10_000) -> None:
    # SQLAlchemy's documented recipe: take over BEGIN from the driver, so write
    # transactions take the lock up front (BEGIN IMMEDIATE) instead of failing
    # late with "database is locked" when two writers race.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The wait first: switching a new file to WAL takes a lock that another
        # connection starting at the same moment may hold.
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        _switch_to_wal(cursor, busy_timeout_ms / 1000)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class DatabaseAway(Transient):
    """The database did not answer its last probe: work fails at once (UNAVAILABLE to a
    caller) until it answers again, instead of waiting out connection and command
    timeouts, likely past the caller's deadline."""

    def __init__(self) -> None:
        super().__init__("the database")


class Database:
    """One service's database. `write()` and `read()` open a transaction each.

    `probe()` (the service's health watch calls it every few seconds) says whether the
    database answers; while it does not, `write()`, `read()` and `batch_connection()`
    raise `DatabaseAway` at once, until a probe gets an answer again.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._away = False
        # When a transaction last completed (monotonic): the database answered then.
        self._answered_at = float("-inf")
        # Parameters stay out of error messages: they hold callers' personal data.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if not self.is_sqlite:
            kwargs.update(
                pool_size=10, max_overflow=10, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT_S
            )
            if parsed.get_driver_name() == "asyncpg":
                kwargs["connect_args"] = {
                    "server_settings": POSTGRES_BOUNDS,
                    "command_timeout": COMMAND_TIMEOUT_S,
                    "timeout": CONNECT_TIMEOUT_S,
                }
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # SQLite file: small reads by key, and the batched writes of the service's
        # one writer, run inline (see `read(inline=True)` and `batch_connection`).
        self._inline: Engine | None = None
        self._inline_writes: Engine | None = None
        if self.is_sqlite:
            _sqlite_setup(self.engine.sync_engine)
            if parsed.database and parsed.database != ":memory:":
                self._inline = create_engine(
                    parsed.set(drivername="sqlite"), hide_parameters=True, echo=echo
                )
                # A reader in WAL mode waits only for a checkpoint: a short wait,
                # and the event loop is never held long.
                _sqlite_setup(self._inline, busy_timeout_ms=250)
                self._inline_writes = create_engine(
                    parsed.set(drivername="sqlite"), hide_parameters=True, echo=echo
                )
                _sqlite_setup(self._inline_writes, busy_timeout_ms=INLINE_WRITE_WAIT_MS)

    @property
    def away(self) -> bool:
        """Whether the last probe went unanswered."""
        return self._away

    async def probe(self, timeout_s: float) -> bool:
        """One `SELECT 1` within `timeout_s` (through the pool, past the fail-fast of
        `away`): whether the database answers. Sets `away` to the opposite.

        A probe that times out while other work completed a transaction says only that
        the service is busy (the pool taken, the event loop loaded by a flood of calls),
        not that the database is away: the database answers. Failing every call then
        would turn a peak into an outage."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            if self._answered_at >= started:
                self._away = False
                return True
            self._away = True
            return False
        self._away = False
        return True

    def _answering(self) -> None:
        if self._away:
            raise DatabaseAway()

    def _answered(self) -> None:
        self._answered_at = time.monotonic()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        self._answering()
        async with self.engine.begin() as conn:
            yield conn
        self._answered()

    @asynccontextmanager
    async def read(self, *, inline: bool = False) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction.

        `inline=True` (SQLite files): for a few rows by key on a hot path. The
        queries run on the event loop's own thread: a SQLite read by key takes
        tens of microseconds, and each hop to aiosqlite's thread and back cost
        more than that (two small queries, p50: 2.0 ms through the thread, 0.3 inline).
        Elsewhere it is the ordinary read.
        """
        self._answering()
        if inline and self._inline is not None:
            with self._inline.connect() as sync_conn:
                sync_conn = sync_conn.execution_options(**{_READ_ONLY: True})
                with sync_conn.begin():
                    # Offers the `execute` and `run_sync` a read needs, awaitable
                    # like AsyncConnection's.
                    yield cast(AsyncConnection, _InlineConnection(sync_conn))
            self._answered()
            return
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{_READ_ONLY: True})
            async with conn.begin():
                yield conn
        self._answered()

    @asynccontextmanager
    async def batch_connection(self, *, inline: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for the service's one writer (`WriteBatcher`), which begins,
        commits and rolls back itself.

        `inline=True` (SQLite files): the statements run on the event loop's own
        thread. Through aiosqlite every statement is a hop to its thread and back,
        and for a small batch the hops cost more than the work; a big batch is
        better off on the driver's thread, where SQLite's own work runs beside the
        event loop's. Only the one writer may use it: its works await nothing but
        their connection, so an inline transaction never spans a wait. It waits at
        most `INLINE_WRITE_WAIT_MS` for a write lock held by another connection.
        """
        self._answering()
        if inline and self._inline_writes is not None:
            with self._inline_writes.connect() as sync_conn:
                yield cast(AsyncConnection, _InlineConnection(sync_conn))
            self._answered()
            return
        async with self.engine.connect() as conn:
            yield conn
        self._answered()

    async def dispose(self) -> None:
        await self.engine.dispose()
        for engine in (self._inline, self._inline_writes):
            if engine is not None:
                engine.dispose()


class _InlineConnection:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Any:
        return self._conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.execute(statement, parameters)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(self._conn, *args, **kwargs)

    async def begin(self) -> None:
        self._conn.begin()

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()
