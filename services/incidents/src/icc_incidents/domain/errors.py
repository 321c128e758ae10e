"""What can go wrong, in the domain's words; the API maps each to a gRPC status."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


class IncidentError(Exception):
    """Base of the domain's errors."""


class InvalidInput(IncidentError):
    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class NotFound(IncidentError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name} does not exist")


class StaleEtag(IncidentError):
    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(
            f"{name} has changed (etag {actual}, request had {expected}): "
            "read it again and retry the change"
        )


class IllegalTransition(IncidentError):
    """A lifecycle change the current state does not allow."""
