"""Running a service's Alembic migrations at start-up."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text

from icc_storage.database import Database

# Any fixed number: replicas of one service share a database, and so this lock.
_MIGRATION_LOCK = 0x1CC_0001


async def upgrade(db: Database, script_location: Path) -> None:
    """Bring the schema to the newest revision; replicas starting together take turns.

    On PostgreSQL a transaction-scoped advisory lock serializes the replicas (without
    it, two first starts race to create the same tables); SQLite's write lock does
    the same there.
    """
    config = Config()
    config.set_main_option("script_location", str(script_location))

    def run(sync_conn: Connection) -> None:
        config.attributes["connection"] = sync_conn
        command.upgrade(config, "head")

    async with db.write() as conn:
        if conn.dialect.name == "postgresql":
            # A replica waits for another's migration, and a migration may rewrite a
            # big table: neither is bounded like a service's own work.
            await conn.execute(text("SET LOCAL lock_timeout = 0"))
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(run)


def run_migrations(metadata: MetaData) -> None:
    """The body of a service's Alembic `env.py`: migrate on the connection `upgrade` hands over."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through icc_storage.upgrade (services do at start-up)")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
