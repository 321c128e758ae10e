"""Replicas starting together on an empty database take turns migrating it."""

import asyncio
from importlib import resources
from pathlib import Path

from sqlalchemy import inspect

from icc_storage import Database, upgrade


async def test_concurrent_first_starts_migrate_once(database_url: str) -> None:
    replicas = [Database(database_url) for _ in range(4)]
    location = Path(str(resources.files("icc_resources") / "migrations"))
    try:
        await asyncio.gather(*(upgrade(db, location) for db in replicas))
        async with replicas[0].read() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"units", "stations", "hospitals", "outbox", "alembic_version"} <= tables
    finally:
        for db in replicas:
            await db.dispose()
