"""Async engines from a URL: SQLite (WAL, immediate write transactions) or PostgreSQL."""

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_READ_ONLY = "icc_read_only"


def database_url_from_env(service: str, env: Mapping[str, str] = os.environ) -> str:
    """`ICC_<SERVICE>_DB_URL`, else a SQLite file `var/<service>.db` under `ICC_VAR_DIR`."""
    url = env.get(f"ICC_{service.upper()}_DB_URL")
    if url:
        return url
    var_dir = Path(env.get("ICC_VAR_DIR", "var"))
    return f"sqlite+aiosqlite:///{var_dir / f'{service}.db'}"


def _sqlite_setup(engine: AsyncEngine) -> None:
    # SQLAlchemy's documented recipe: take over BEGIN from the driver, so write
    # transactions take the lock up front (BEGIN IMMEDIATE) instead of failing
    # late with "database is locked" when two writers race.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """One service's database. `write()` and `read()` open a transaction each."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # Parameters stay out of error messages: they hold callers' personal data.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_setup(self.engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(**{_READ_ONLY: True})
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
