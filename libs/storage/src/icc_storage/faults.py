"""The database's passing faults, taught to `icc_bus.faults`: the one classification.

A database that refuses or drops connections, is restarting, does not answer within the
bounds set on every connection (`icc_storage.database`), or aborts a transaction for a
conflict or a lock wait: the same work succeeds once it is back. Constraint violations,
bad SQL and the like fail every time and are not here.
"""

from asyncpg import exceptions as pg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from icc_bus.faults import recognise

# SQLSTATE classes: connection exception, insufficient resources, operator intervention
# (statement timeout 57014, shutdown, cannot connect now), system error.
_PASSING_CLASSES = frozenset({"08", "53", "57", "58"})
# Serialization failure, deadlock, lock wait timed out, idle in a transaction too long.
_PASSING_STATES = frozenset({"40001", "40P01", "55P03", "25P03"})
# SQLite: another connection holds the write lock past the busy timeout.
_SQLITE_PASSING = ("database is locked", "database table is locked")


@recognise
def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (one link of a chain) says the database is away or overloaded for now."""
    if isinstance(exc, PoolTimeout):
        return True  # no connection free in time: the database is slow to answer
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        text = str(exc.orig).lower()
        return any(s in text for s in _SQLITE_PASSING)
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        return state in _PASSING_STATES or state[:2] in _PASSING_CLASSES
    # asyncpg's own: the connection closed under a query, or used once closed.
    if isinstance(exc, pg.ConnectionDoesNotExistError):
        return True
    return isinstance(exc, pg.InterfaceError) and "connection is closed" in str(exc)
