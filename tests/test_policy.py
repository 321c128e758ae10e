"""Every RPC of every service has a rule in its service's policy (deny by default means an
RPC without one answers no one): enumerated from the generated descriptors, so a new RPC
fails here until someone decides who may call it."""

import importlib
import pkgutil

from google.protobuf.descriptor import ServiceDescriptor

import icc
from icc_dispatch.policy import POLICY as DISPATCH
from icc_incidents.policy import POLICY as INCIDENTS
from icc_ops.policy import POLICY as OPS
from icc_resources.policy import POLICY as RESOURCES
from icc_rpc import Policy

POLICIES: dict[str, Policy] = {p.service: p for p in (INCIDENTS, RESOURCES, DISPATCH, OPS)}


def contract_services() -> list[ServiceDescriptor]:
    """Every service declared in `protos/icc/`, from the generated `*_pb2` modules."""
    found: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.walk_packages(icc.__path__, "icc."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            for service in descriptor.services_by_name.values():
                found[service.full_name] = service
    return list(found.values())


def test_every_rpc_of_every_service_has_a_rule() -> None:
    services = contract_services()
    assert len(services) >= 3
    missing = []
    for service in services:
        policy = POLICIES.get(service.full_name)
        if policy is None:
            missing.append(f"{service.full_name}: no policy")
            continue
        for method in service.methods:
            if method.name not in policy.rules:
                missing.append(f"{service.full_name}/{method.name}: no rule")
    assert not missing, "decide who may call each (services/*/policy.py):\n" + "\n".join(missing)


def test_no_rule_names_an_rpc_that_does_not_exist() -> None:
    methods = {f"{s.full_name}/{m.name}" for s in contract_services() for m in s.methods}
    stale = [
        f"{p.service}/{name}"
        for p in POLICIES.values()
        for name in p.rules
        if f"{p.service}/{name}" not in methods
    ]
    assert not stale
