"""Running a service's Alembic migrations at start-up."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from icc_storage.database import Database


async def upgrade(db: Database, script_location: Path) -> None:
    """Bring the schema to the newest revision (idempotent; safe for replicas on PostgreSQL)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))

    def run(sync_conn: Connection) -> None:
        config.attributes["connection"] = sync_conn
        command.upgrade(config, "head")

    async with db.write() as conn:
        await conn.run_sync(run)
