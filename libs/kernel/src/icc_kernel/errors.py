"""What can go wrong, in the domain's words. `icc_rpc.errors.to_rpc_error` is the one place
that turns each into a gRPC status; messages are sentences a caller can act on."""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One offending field of a request (`google.rpc.BadRequest.FieldViolation`)."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every domain error."""


class InvalidInput(DomainError):
    """The request is wrong whatever the state: INVALID_ARGUMENT, naming each field."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def one(cls, field: str, description: str) -> "InvalidInput":
        return cls([Violation(field, description)])


class NotFound(DomainError):
    """NOT_FOUND: `name` is the resource name asked for."""

    def __init__(self, name: str, hint: str = "") -> None:
        self.name = name
        super().__init__(f"{name} does not exist" + (f": {hint}" if hint else ""))


class Forbidden(DomainError):
    """PERMISSION_DENIED: the caller may call this, but not on this object (another
    agency's unit, an incident its agency is not involved in); the message says why."""


class StaleEtag(DomainError):
    """ABORTED: the resource changed since the caller read it."""

    def __init__(self, name: str, expected: str, actual: str) -> None:
        self.name = name
        super().__init__(
            f"{name} has changed (etag {actual}, request had {expected}): "
            "read it again and retry the change"
        )


class ConcurrentChange(DomainError):
    """ABORTED: another writer changed the same record at the same moment; retry."""


class IllegalTransition(DomainError):
    """FAILED_PRECONDITION: a change the current state does not allow (the message says why)."""


class Unavailable(DomainError):
    """FAILED_PRECONDITION: named things could not be had (all or nothing).

    `reasons` maps each resource name to why; `advice` says what the caller can do next."""

    def __init__(
        self, reasons: Mapping[str, str], outcome: str = "nothing reserved", advice: str = ""
    ) -> None:
        self.reasons = dict(reasons)
        listed = "; ".join(f"{name} {why}" for name, why in sorted(self.reasons.items()))
        super().__init__(f"{outcome}: {listed}" + (f"; {advice}" if advice else ""))


class Transient(DomainError):
    """UNAVAILABLE: something the work depends on (its database, the bus, another service)
    is away for now; the same request succeeds once it is back, after `retry_after_s`."""

    def __init__(self, what: str, retry_after_s: float = 1.0) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"{what} is unavailable for now; retry in {retry_after_s:g} s")


def raise_if_any(violations: list[Violation]) -> None:
    """InvalidInput naming every violation found, when there is any: checks append to a
    list, so one answer names every bad field."""
    if violations:
        raise InvalidInput(violations)
