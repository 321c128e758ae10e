"""The rules of sign-in throttling: how many wrong passwords an account and a client
address may send before they must wait, and how long.

Failures are counted per key (an account, a client address). The first few are free;
from the `free`-th on, each one locks the key for `first_lock_s`, doubling with every
further failure up to `max_lock_s`. While a key is locked, a sign-in is refused before
the password is even checked (no guess is tried, and none is counted). A count is
forgotten `forget_after_s` after its last failure, and an account's when it signs in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class KeyKind(StrEnum):
    ACCOUNT = "account"
    ADDRESS = "address"


@dataclass(frozen=True)
class ThrottleRules:
    # An account is one dispatcher; an address may be a whole control room behind one NAT,
    # so it is allowed more (and is still locked after at most 10).
    account_free: int = 5
    address_free: int = 10
    first_lock_s: float = 30.0
    max_lock_s: float = 900.0
    forget_after_s: float = 3600.0

    def free(self, kind: KeyKind) -> int:
        return self.account_free if kind is KeyKind.ACCOUNT else self.address_free

    def lock_after(self, kind: KeyKind, failures: int) -> timedelta:
        """How long a key stays locked after its `failures`-th failure in a row."""
        beyond = failures - self.free(kind)
        if beyond < 0:
            return timedelta(0)
        # Capped before the power: 2**beyond overflows nothing, however many failures.
        doublings = min(beyond, 32)
        return timedelta(seconds=min(self.first_lock_s * 2**doublings, self.max_lock_s))

    def forget_before(self, now: datetime) -> datetime:
        """Failures before this time no longer count."""
        return now - timedelta(seconds=self.forget_after_s)


def seconds_left(locked_until: datetime | None, now: datetime) -> int:
    """Whole seconds until `locked_until` (rounded up, so that a client waiting that long
    finds the lock gone); 0 when not locked."""
    if locked_until is None or locked_until <= now:
        return 0
    left = (locked_until - now).total_seconds()
    return max(1, int(-(-left // 1)))
