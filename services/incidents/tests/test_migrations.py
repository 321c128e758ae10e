"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from importlib import resources
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from icc_incidents.store import metadata
from icc_storage import Database, upgrade


async def test_migrations_match_the_declared_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db, Path(str(resources.files("icc_incidents") / "migrations")))
        async with db.read() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert diff == []
    finally:
        await db.dispose()
