"""Who did something: the person (or system) behind a change, recorded with it."""

from dataclasses import dataclass

from icc_kernel.vocabulary import Agency


@dataclass(frozen=True)
class Actor:
    """`icc.common.v1.Actor`: a user of an agency in a role (`dispatcher`, `unit`, `system`),
    and for a person signed in at the gateway, the system they came through (`via`)."""

    user: str
    agency: Agency
    role: str = ""
    via: str = ""
