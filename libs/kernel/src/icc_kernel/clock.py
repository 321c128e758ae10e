"""The UTC clock every service stamps its records with."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A time read back from storage, aware: SQLite hands back naive datetimes, and every
    time ICC stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def optional_utc(value: datetime | None) -> datetime | None:
    """`as_utc` for a time that may be missing."""
    return None if value is None else as_utc(value)
