"""Storage for ICC services: async engines, transactional outbox and relay, inbox."""

from icc_storage.batch import EVERY_BATCH_INLINE, AfterCommit, WriteBatcher, WriteTx
from icc_storage.database import Database, database_url_from_env
from icc_storage.faults import database_unavailable
from icc_storage.inbox import claim_event, inbox_table
from icc_storage.inserts import insert_if_absent
from icc_storage.migrate import upgrade
from icc_storage.outbox import COMMITTED_EVENTS, OutboxRelay, add_events, outbox_table
from icc_storage.writer import Writer, relay_enabled_from_env

__all__ = [
    "COMMITTED_EVENTS",
    "EVERY_BATCH_INLINE",
    "AfterCommit",
    "Database",
    "OutboxRelay",
    "WriteBatcher",
    "WriteTx",
    "Writer",
    "add_events",
    "claim_event",
    "database_unavailable",
    "database_url_from_env",
    "inbox_table",
    "insert_if_absent",
    "outbox_table",
    "relay_enabled_from_env",
    "upgrade",
]
