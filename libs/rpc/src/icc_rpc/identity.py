"""Who is calling, from gRPC metadata: `icc-user`, `icc-agency`, `icc-role`.

Until partners authenticate (TLS client certificates or signed agency tokens),
these are what the caller says; a gateway in front of the services sets them.
"""

from dataclasses import dataclass
from typing import Any

from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency
from icc_rpc.errors import FieldViolation, RpcError

META_USER = "icc-user"
META_AGENCY = "icc-agency"
META_ROLE = "icc-role"
AGENCIES = tuple(a.name for a in Agency)


@dataclass(frozen=True)
class Caller:
    user: str
    agency: str
    role: str


def caller_of(context: Any) -> Caller:
    meta = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    agency = meta.get(META_AGENCY, "COMMAND_CENTER").upper().removeprefix("AGENCY_")
    if agency not in AGENCIES:
        raise RpcError.invalid(
            [FieldViolation(f"metadata {META_AGENCY}", f"unknown agency {agency[:40]!r}")]
        )
    return Caller(
        user=meta.get(META_USER, "anonymous")[:200],
        agency=agency,
        role=meta.get(META_ROLE, "")[:64],
    )


def actor_of(context: Any) -> Actor:
    """The caller as the actor of what its call changes."""
    caller = caller_of(context)
    return Actor(user=caller.user, agency=Agency[caller.agency], role=caller.role)
