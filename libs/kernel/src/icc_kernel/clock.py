"""The UTC clock every service stamps its records with."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A time read back from storage, aware: SQLite hands back naive datetimes, and every
    time ICC stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
