"""Authorization in one place: each service declares a `Policy` (RPC -> `Rule`: who may
call it), and the server's interceptor applies it to every call, deny by default.

A call from no verified identity is UNAUTHENTICATED; one its rule does not allow is
PERMISSION_DENIED with a sentence saying who may. An allowed call runs with its `Scope`
(`icc_kernel.principals`), which the servicer reads with `scope()` to filter what it
returns (incidents of the caller's agency, personal data, drills) and to check the objects
it changes (an agency's own units, a device's own unit, a hospital's own capacity).
"""

import contextvars
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from icc_kernel.actors import Actor
from icc_kernel.principals import Kind, Principal, Scope
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency
from icc_rpc.errors import RpcError
from icc_rpc.identity import Principals

EVERY_SERVICE = "*"


@dataclass(frozen=True)
class Rule:
    """Who may call one RPC. Each field is a kind of caller; left empty, not them."""

    # Staff of the command center (people at its screen, its own certificates), with at
    # least this role.
    center: Role | None = None
    # Partner agencies' clients, with at least this role.
    partners: Role | None = None
    # These services by name (`dispatch`, `simulator`); `*`: every service.
    services: frozenset[str] = frozenset()
    # The gateway on its own behalf (reading the picture).
    gateway: bool = False
    devices: bool = False
    hospitals: bool = False
    engineers: bool = False

    def allows(self, p: Principal) -> bool:
        if p.center:
            role = p.person_role
            return self.center is not None and role is not None and role.includes(self.center)
        match p.kind:
            case Kind.PARTNER:
                role = p.person_role
                return (
                    self.partners is not None and role is not None and role.includes(self.partners)
                )
            case Kind.SERVICE:
                return EVERY_SERVICE in self.services or p.name in self.services
            case Kind.GATEWAY:
                return self.gateway
            case Kind.DEVICE:
                return self.devices
            case Kind.HOSPITAL:
                return self.hospitals
            case Kind.ENGINEER:
                return self.engineers
        return False

    def who(self) -> str:
        """The callers it allows, in words (for refusals)."""
        out = []
        if self.center:
            out.append(f"command center {self.center.value}s")
        if self.partners:
            out.append(f"partner {self.partners.value}s")
        if self.services:
            names = (
                "every service"
                if EVERY_SERVICE in self.services
                else ", ".join(sorted(self.services))
            )
            out.append(names)
        for flag, word in (
            (self.gateway, "the gateway"),
            (self.devices, "devices"),
            (self.hospitals, "hospitals"),
            (self.engineers, "on-call engineers"),
        ):
            if flag:
                out.append(word)
        return ", ".join(out) or "no one"


def allow(
    *,
    center: Role | None = None,
    partners: Role | None = None,
    services: Iterable[str] = (),
    gateway: bool = False,
    devices: bool = False,
    hospitals: bool = False,
    engineers: bool = False,
) -> Rule:
    return Rule(center, partners, frozenset(services), gateway, devices, hospitals, engineers)


# Every verified identity: reference data.
ANYONE = allow(
    center=Role.VIEWER,
    partners=Role.VIEWER,
    services=[EVERY_SERVICE],
    gateway=True,
    devices=True,
    hospitals=True,
    engineers=True,
)


@dataclass(frozen=True)
class Policy:
    """A service's rules: its gRPC full name and a rule for each of its methods."""

    service: str
    rules: Mapping[str, Rule]


def scope_of(p: Principal) -> Scope:
    """What a principal may see: every agency's records for the command center, its
    services, the gateway and engineers; its own agency's for a partner; its own unit
    for a device, its own hospital for a hospital. Personal data to call-takers and up
    at the center and to partner dispatchers and up; drills to those taking part."""
    role = p.person_role
    if p.kind is Kind.DEVICE:
        return Scope(p, agency=p.agency, exercises=p.exercises, unit=p.name)
    if p.kind is Kind.HOSPITAL:
        return Scope(p, agency=p.agency, exercises=False, hospital=p.name)
    if p.kind is Kind.PARTNER and not p.center:
        personal = role is not None and role.includes(Role.DISPATCHER)
        return Scope(p, agency=p.agency, personal_data=personal, exercises=p.exercises)
    personal = p.center and role is not None and role.includes(Role.CALL_TAKER)
    return Scope(p, agency=None, personal_data=personal, exercises=p.exercises)


# The scope of the call being answered (set by the interceptor for the call's task).
_SCOPE: contextvars.ContextVar[Scope] = contextvars.ContextVar("icc_scope")
# Its method's short name (`GetIncident`), for the audit of personal data.
_METHOD: contextvars.ContextVar[str] = contextvars.ContextVar("icc_method", default="")
# Authorization off (the benchmark's plaintext comparison only): everything, as the center.
UNCHECKED = Scope(
    Principal(Kind.SERVICE, "unchecked", Agency.COMMAND_CENTER, "system", True, ""),
    personal_data=True,
    exercises=True,
)


def scope() -> Scope:
    """The scope of the call being answered (LookupError outside a call)."""
    return _SCOPE.get()


def current_method() -> str:
    """The short name of the RPC being answered (`GetIncident`); "" outside a call."""
    return _METHOD.get()


def unchecked(method: str = "") -> None:
    """The call runs unchecked: a server without TLS (the benchmark's comparison)."""
    _SCOPE.set(UNCHECKED)
    _METHOD.set(method.rpartition("/")[2])


class Gate:
    """Decides each call by its method's rule; made by `start_server` from the policies."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._rules: dict[str, tuple[Rule, str]] = {}
        for policy in policies:
            for method, rule in policy.rules.items():
                self._rules[f"/{policy.service}/{method}"] = (rule, policy.service)
        self._principals = Principals()
        # Scopes by principal: most calls come from a few certificates.
        self._scopes: dict[Principal, Scope] = {}

    def rule(self, method: str) -> tuple[Rule, str] | None:
        return self._rules.get(method)

    def admit(self, context: Any, method: str, rule: tuple[Rule, str] | None) -> None:
        """Sets the call's scope, or raises UNAUTHENTICATED / PERMISSION_DENIED."""
        audience = rule[1] if rule else method.lstrip("/").partition("/")[0]
        principal = self._principals.of(context, audience)
        if rule is None:
            raise RpcError(
                grpc.StatusCode.PERMISSION_DENIED, f"{method} has no rule: no one may call it"
            )
        if not rule[0].allows(principal):
            name = method.rpartition("/")[2]
            raise RpcError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{principal.describe()} may not call {name}; {rule[0].who()} may",
            )
        found = self._scopes.get(principal)
        if found is None:
            if len(self._scopes) > 10_000:
                self._scopes.clear()
            found = self._scopes[principal] = scope_of(principal)
        _SCOPE.set(found)
        _METHOD.set(method.rpartition("/")[2])

    def admit_any(self, context: Any) -> None:
        """Health and reflection: any verified identity."""
        _SCOPE.set(scope_of(self._principals.of(context, "")))


def actor_of(context: Any) -> Actor:
    """Who the call being answered is recorded as (its principal's actor)."""
    return _SCOPE.get().principal.actor()
