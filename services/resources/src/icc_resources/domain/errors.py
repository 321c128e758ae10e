"""What can go wrong, in the domain's words; the API maps each to a gRPC status."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


class ResourceError(Exception):
    """Base of the domain's errors."""


class InvalidInput(ResourceError):
    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class NotFound(ResourceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} does not exist")


class StaleEtag(ResourceError):
    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{name} has changed (etag {actual}, request had {expected}): read it again and retry"
        )


class IllegalTransition(ResourceError):
    """A status change the unit's current status does not allow."""


class UnitsUnavailable(ResourceError):
    """A reservation lost: names every unit that could not be reserved, and why."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = reasons
        listed = "; ".join(f"{name} {why}" for name, why in sorted(reasons.items()))
        super().__init__(f"nothing reserved: {listed}")
