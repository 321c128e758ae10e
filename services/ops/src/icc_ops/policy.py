"""Who may call each RPC of the ops service (`icc_rpc.authz`; deny by default): the dead
letters are for the command center's supervisors and the on-call engineers, who read,
replay and discard them (each replay and discard audited under the caller's name)."""

from icc_kernel.roles import Role
from icc_ops.api import SERVICE_NAME
from icc_rpc import Policy, allow

_OPERATORS = allow(center=Role.SUPERVISOR, engineers=True)

POLICY = Policy(
    SERVICE_NAME,
    {
        "ListDeadLetters": _OPERATORS,
        "GetDeadLetter": _OPERATORS,
        "ReplayDeadLetter": _OPERATORS,
        "DiscardDeadLetter": _OPERATORS,
    },
)
