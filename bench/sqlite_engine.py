"""Bare SQLAlchemy async engines on SQLite, set up the way the services set theirs up.

WAL, `synchronous=FULL`, a busy timeout, and `BEGIN IMMEDIATE` for write transactions
(SQLAlchemy's documented recipe), but nothing of the project's own libraries.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, LargeBinary, MetaData, String, Table, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()

# One row per request: roughly what an incident insert writes.
rows = Table(
    "rows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
)


def sqlite_engine(path: Path, *, pool_size: int = 1) -> AsyncEngine:
    """An aiosqlite engine; `pool_size=1` queues writers in asyncio, not in SQLite's lock."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=pool_size, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
