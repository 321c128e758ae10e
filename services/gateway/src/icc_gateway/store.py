"""Tables of the gateway's own database: dispatcher accounts, their sessions, the
failed sign-ins that throttle the next ones, and the public warnings it publishes (CAP).

The gateway owns nothing else: incidents, units and assignments belong to the services
and are only ever read and changed through their gRPC APIs.
"""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    # viewer, call_taker, dispatcher or supervisor.
    Column("role", String(20), nullable=False),
    # The agency the account acts for (POLICE, FIRE, MEDICAL, COMMAND_CENTER, UTILITY).
    Column("agency", String(20), nullable=False),
    # argon2id, in the PHC string format (parameters and salt included).
    Column("password_hash", String(255), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 (hex) of the cookie's token: a leaked table does not let anyone in.
    Column("token_hash", String(64), primary_key=True),
    Column(
        "username",
        String(64),
        ForeignKey("users.username", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Column("last_seen_time", DateTime(timezone=True), nullable=False),
)
Index("ix_sessions_username", sessions.c.username)
Index("ix_sessions_expire_time", sessions.c.expire_time)

login_failures = Table(
    "login_failures",
    metadata,
    # SHA-256 (hex) of "account:NAME" or "address:IP": a name typed by mistake (a password
    # in the name field) is never stored as it was typed.
    Column("key_hash", String(64), primary_key=True),
    Column("kind", String(10), nullable=False),  # account or address
    # Failures in a row, since the last forgotten or successful sign-in.
    Column("failures", Integer, nullable=False),
    Column("last_failure_time", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)
Index("ix_login_failures_last_failure_time", login_failures.c.last_failure_time)

# Public warnings: the warning as it stands (JSON: what was issued, every message's
# identifier and time), and each CAP message exactly as it was published.
warnings = Table(
    "warnings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("exercise", Boolean, nullable=False),
    Column("expires", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
Index("ix_warnings_expires", warnings.c.expires)

warning_messages = Table(
    "warning_messages",
    metadata,
    Column("identifier", String(120), primary_key=True),
    Column("warning_id", String(64), ForeignKey("warnings.id"), nullable=False),
    Column("sent", DateTime(timezone=True), nullable=False),
    Column("document", Text, nullable=False),
)
Index("ix_warning_messages_warning_id", warning_messages.c.warning_id)
