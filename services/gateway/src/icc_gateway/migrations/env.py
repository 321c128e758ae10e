"""Alembic environment: runs on the connection handed over by `icc_storage.upgrade`."""

from icc_gateway.store import metadata
from icc_storage.migrate import run_migrations

run_migrations(metadata)
