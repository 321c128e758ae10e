"""No transaction holds another hostage on PostgreSQL, and a database away is a passing fault."""

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from icc_bus.faults import is_transient
from icc_storage import Database
from icc_storage.database import IDLE_IN_TRANSACTION_TIMEOUT_MS, LOCK_TIMEOUT_MS, DatabaseAway
from icc_testing import CuttableProxy


def _postgres(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the bounds are PostgreSQL's")


async def test_each_connection_is_bounded(database_url: str) -> None:
    _postgres(database_url)
    db = Database(database_url)
    try:
        async with db.read() as conn:
            lock = await conn.scalar(text("SHOW lock_timeout"))
            idle = await conn.scalar(text("SHOW idle_in_transaction_session_timeout"))
            statement = await conn.scalar(text("SHOW statement_timeout"))
        assert lock == f"{LOCK_TIMEOUT_MS // 1000}s"
        assert idle == f"{IDLE_IN_TRANSACTION_TIMEOUT_MS // 1000}s"
        assert statement != "0"
    finally:
        await db.dispose()


async def test_a_frozen_transaction_frees_its_locks_and_a_waiter_gets_a_passing_fault(
    database_url: str,
) -> None:
    """One connection takes a row lock and goes quiet inside its transaction (a replica
    frozen with SIGSTOP); another waits for that row: it is refused after the lock
    timeout with a transient fault, and the row is free once the idle one is ended."""
    _postgres(database_url)
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE rows (id int PRIMARY KEY, n int)"))
            await conn.execute(text("INSERT INTO rows VALUES (1, 0)"))
        frozen = await db.engine.connect()
        await frozen.begin()
        await frozen.execute(text("UPDATE rows SET n = n + 1 WHERE id = 1"))
        with pytest.raises(DBAPIError) as refused:
            async with db.write() as conn:
                await conn.execute(text("UPDATE rows SET n = n + 10 WHERE id = 1"))
        assert is_transient(refused.value)
        await asyncio.sleep(IDLE_IN_TRANSACTION_TIMEOUT_MS / 1000 + 1)
        async with db.write() as conn:
            await conn.execute(text("UPDATE rows SET n = n + 10 WHERE id = 1"))
        async with db.read() as conn:
            assert await conn.scalar(text("SELECT n FROM rows WHERE id = 1")) == 10
        with pytest.raises(DBAPIError) as ended:
            await frozen.execute(text("SELECT 1"))
        assert is_transient(ended.value)
        await frozen.close()
    finally:
        await db.dispose()


async def test_a_database_out_of_reach_is_a_passing_fault_and_bad_data_is_not(
    database_url: str,
) -> None:
    _postgres(database_url)
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE once (id int PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO once VALUES (1)"))
        with pytest.raises(IntegrityError) as clash:
            async with db.write() as conn:
                await conn.execute(text("INSERT INTO once VALUES (1)"))
        assert not is_transient(clash.value)
    finally:
        await db.dispose()
    # Nothing listens on this port.
    away = Database("postgresql+asyncpg://postgres@127.0.0.1:9/postgres")
    try:
        with pytest.raises(ConnectionRefusedError) as refused:
            async with away.read() as conn:
                await conn.execute(text("SELECT 1"))
        assert is_transient(refused.value)
    finally:
        await away.dispose()


async def test_a_cut_database_is_answered_at_once_until_it_answers_again(
    database_url: str,
) -> None:
    """Once a probe goes unanswered (the health watch probes every few seconds), work
    fails at once with a passing fault instead of waiting out the timeouts, past a
    caller's deadline; the first probe answered ends that."""
    _postgres(database_url)
    url = make_url(database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    db = Database(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    try:
        assert await db.probe(timeout_s=5)
        assert not db.away
        proxy.cut()
        started = time.monotonic()
        assert not await db.probe(timeout_s=1)
        # Its bound, and the 2 s SQLAlchemy gives a cancelled connection to close.
        assert time.monotonic() - started < 1 + 2 + 1
        assert db.away
        for work in (db.read, db.write):
            started = time.monotonic()
            with pytest.raises(DatabaseAway) as refused:
                async with work() as conn:
                    await conn.execute(text("SELECT 1"))
            assert time.monotonic() - started < 0.5
            assert is_transient(refused.value)
        proxy.heal()
        assert await db.probe(timeout_s=5)
        async with db.read() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await db.dispose()
        proxy.stop()


async def test_a_probe_late_because_the_service_is_busy_does_not_cut_it_off(
    tmp_path: Path,
) -> None:
    """Under a flood of calls the probe can wait past its bound (the pool taken, the
    event loop loaded) while other work gets its answers: the database answers, and
    refusing every call then would turn a peak into an outage."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    try:

        async def busy_work() -> None:
            async with db.read() as conn:
                await conn.execute(text("SELECT 1"))
            # The loop held past the probe's bound, as by a burst of handlers.
            time.sleep(0.3)  # noqa: ASYNC251 (blocking on purpose: a loaded loop)

        probe = asyncio.create_task(db.probe(timeout_s=0.05))
        await asyncio.sleep(0)  # the probe starts first, then waits for its connection
        await busy_work()
        assert await probe
        assert not db.away
        async with db.write() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await db.dispose()
