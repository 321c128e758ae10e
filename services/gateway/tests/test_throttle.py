"""Sign-in throttling: the rules (domain/throttle.py) and their counts in the gateway's
database (throttle.py), on SQLite and, where ICC_TEST_POSTGRES_URL is set, PostgreSQL."""

import asyncio
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from icc_gateway.domain.throttle import KeyKind, ThrottleRules, seconds_left
from icc_gateway.throttle import LoginThrottle, sign_in_keys
from icc_storage import Database, upgrade

T0 = datetime(2026, 12, 7, 8, tzinfo=UTC)


def test_locks_double_from_the_free_failures_on_up_to_a_ceiling() -> None:
    rules = ThrottleRules()
    account = [rules.lock_after(KeyKind.ACCOUNT, n).total_seconds() for n in range(1, 12)]
    assert account == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    address = [rules.lock_after(KeyKind.ADDRESS, n).total_seconds() for n in range(1, 13)]
    assert address[:9] == [0] * 9 and address[9:] == [30, 60, 120]
    # However many failures: no overflow, the ceiling.
    assert rules.lock_after(KeyKind.ACCOUNT, 10**9).total_seconds() == 900
    assert seconds_left(None, T0) == 0
    assert seconds_left(T0, T0) == 0
    assert seconds_left(T0 + timedelta(seconds=29.2), T0) == 30  # rounded up


def test_an_account_is_counted_by_its_name_in_any_case() -> None:
    account, address = sign_in_keys(" Supervisor ", "192.0.2.1")
    assert account == sign_in_keys("supervisor", "192.0.2.9")[0]
    assert account.hash != address.hash and len(account.hash) == 64
    assert "supervisor" not in account.hash


async def test_failures_lock_and_are_forgotten(database_url: str) -> None:
    db = Database(database_url)
    now = [T0]
    throttle = LoginThrottle(db, clock=lambda: now[0])
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        account, place = sign_in_keys("dispatcher", "192.0.2.1")
        keys = [account, place]
        assert [await throttle.failed(keys) for _ in range(4)] == [0, 0, 0, 0]
        assert await throttle.wait_s(keys) == 0
        assert await throttle.failed(keys) == 30  # the fifth
        now[0] += timedelta(seconds=10)
        assert await throttle.wait_s(keys) == 20
        assert await throttle.wait_s([place]) == 0  # the address has 5 of its 10
        now[0] += timedelta(seconds=21)
        assert await throttle.wait_s(keys) == 0
        assert await throttle.failed(keys) == 60  # the sixth: twice as long
        # A good sign-in forgets the account's failures, not the address's.
        await throttle.succeeded(account)
        assert await throttle.wait_s([account]) == 0
        now[0] += timedelta(seconds=61)
        assert await throttle.failed(keys) == 0  # the account starts again
        for _ in range(2):  # the address's eighth and ninth
            await throttle.failed([place])
        assert await throttle.failed([place]) == 30  # its tenth
        # An hour after the last failure, everything is forgotten.
        now[0] += timedelta(hours=1, seconds=1)
        assert await throttle.failed(keys) == 0
    finally:
        await db.dispose()


async def test_failures_at_the_same_moment_are_all_counted(database_url: str) -> None:
    """Two replicas (here: concurrent calls) failing one account count every failure."""
    db = Database(database_url)
    throttle = LoginThrottle(db, clock=lambda: T0)
    try:
        await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
        account, _ = sign_in_keys("dispatcher", "192.0.2.1")
        waits = await asyncio.gather(*(throttle.failed([account]) for _ in range(6)))
        assert sorted(waits) == [0, 0, 0, 0, 30, 60]
    finally:
        await db.dispose()
