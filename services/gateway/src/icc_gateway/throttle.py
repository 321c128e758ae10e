"""Failed sign-ins, counted in the gateway's database (domain/throttle.py has the rules).

In the database rather than in memory, so that every replica of the gateway behind one
load balancer counts the same failures: an attacker gains nothing by spreading guesses
over replicas. Counting is one `UPDATE ... RETURNING` per key, atomic in SQLite and
PostgreSQL alike, so two replicas failing the same account at the same moment count two.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from icc_gateway.domain.throttle import KeyKind, ThrottleRules, seconds_left
from icc_gateway.store import login_failures
from icc_kernel.clock import optional_utc
from icc_storage import Database, insert_if_absent


@dataclass(frozen=True)
class Key:
    kind: KeyKind
    value: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(f"{self.kind}:{self.value}".encode()).hexdigest()


def sign_in_keys(username: str, address: str) -> tuple[Key, Key]:
    """The account (names are lower-case: `Supervisor` is counted as `supervisor`) and the
    client address a sign-in is counted against."""
    return Key(KeyKind.ACCOUNT, username.strip().lower()), Key(KeyKind.ADDRESS, address)


class LoginThrottle:
    def __init__(
        self,
        db: Database,
        rules: ThrottleRules | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self.rules = rules or ThrottleRules()
        self._clock = clock

    async def wait_s(self, keys: Sequence[Key]) -> int:
        """Seconds until every one of `keys` may try again (0: now)."""
        t = login_failures
        async with self._db.read() as conn:
            rows = await conn.execute(
                select(t.c.locked_until).where(t.c.key_hash.in_([k.hash for k in keys]))
            )
            locks = [optional_utc(r.locked_until) for r in rows]
        now = self._clock()
        return max((seconds_left(lock, now) for lock in locks), default=0)

    async def failed(self, keys: Sequence[Key]) -> int:
        """Counts a failure against each key; the seconds to wait from now on (0: none)."""
        t = login_failures
        now = self._clock()
        forget = self.rules.forget_before(now)
        locks = []
        async with self._db.write() as conn:
            # Counts past their time start again from nothing (and the table stays small).
            await conn.execute(delete(t).where(t.c.last_failure_time < forget))
            fresh = [
                {"key_hash": k.hash, "kind": k.kind.value, "failures": 0, "last_failure_time": now}
                for k in keys
            ]
            await conn.execute(insert_if_absent(conn.dialect.name, t), fresh)
            for key in keys:
                counted = await conn.execute(
                    update(t)
                    .where(t.c.key_hash == key.hash)
                    .values(failures=t.c.failures + 1, last_failure_time=now)
                    .returning(t.c.failures)
                )
                failures = counted.scalar_one()
                lock = self.rules.lock_after(key.kind, failures)
                if lock:
                    locked_until = now + lock
                    await conn.execute(
                        update(t).where(t.c.key_hash == key.hash).values(locked_until=locked_until)
                    )
                    locks.append(seconds_left(locked_until, now))
        return max(locks, default=0)

    async def succeeded(self, key: Key) -> None:
        """A sign-in went through: the account's failures are forgotten (its address's
        are not: one good password must not reset a guesser's count)."""
        await self.forget([key])

    async def forget(self, keys: Sequence[Key]) -> int:
        """Forgets the failures of `keys` (and lifts their locks); how many had some."""
        t = login_failures
        async with self._db.write() as conn:
            gone = await conn.execute(delete(t).where(t.c.key_hash.in_([k.hash for k in keys])))
        return int(gone.rowcount or 0)
