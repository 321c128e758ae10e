"""What can go wrong in dispatch: the kernel's domain errors (re-exported: dispatch names
them from here) and the one of its own, a lost reservation (`icc_rpc.errors.to_rpc_error`
answers each with its gRPC status)."""

from collections.abc import Mapping

from icc_kernel.errors import ConcurrentChange as ConcurrentChange
from icc_kernel.errors import DomainError as DomainError
from icc_kernel.errors import Forbidden as Forbidden
from icc_kernel.errors import IllegalTransition as IllegalTransition
from icc_kernel.errors import InvalidInput as InvalidInput
from icc_kernel.errors import NotFound as NotFound
from icc_kernel.errors import Unavailable
from icc_kernel.errors import Violation as Violation
from icc_kernel.names import name_of


class UnitsUnavailable(Unavailable):
    """The reservation lost (all or nothing): each unit that could not be had, and why."""

    def __init__(self, reasons: Mapping[str, str]) -> None:
        # By unit id here; by resource name in the message and the error's details.
        self.unit_ids = sorted(reasons)
        super().__init__(
            {name_of("units", u): why for u, why in reasons.items()},
            outcome="nothing assigned",
            advice="ask for a new recommendation",
        )
