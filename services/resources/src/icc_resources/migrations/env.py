"""Alembic environment: runs on the connection handed over by `icc_storage.upgrade`."""

from alembic import context

from icc_resources.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through icc_storage.upgrade (the service does at start-up)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
