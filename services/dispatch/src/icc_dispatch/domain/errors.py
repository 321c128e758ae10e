"""What can go wrong, in the domain's words; the API maps each to a gRPC status."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


class DispatchError(Exception):
    """Base of the domain's errors."""


class InvalidInput(DispatchError):
    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class NotFound(DispatchError):
    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(f"{name} does not exist" + (f": {hint}" if hint else ""))


class IllegalTransition(DispatchError):
    """A change the assignment's or incident's current state does not allow."""


class UnitsUnavailable(DispatchError):
    """The reservation lost: names each unit that could not be had, and why."""

    def __init__(self, reasons: dict[str, str]) -> None:
        self.reasons = reasons
        listed = "; ".join(f"{name} {why}" for name, why in sorted(reasons.items()))
        super().__init__(f"nothing assigned: {listed}")
