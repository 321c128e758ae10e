"""gRPC server and client set-up shared by ICC services: mutual TLS, who calls, the
authorization policy, errors, health and reflection."""

from icc_rpc.authz import ANYONE, Policy, Rule, allow, scope
from icc_rpc.client import DEFAULT_TIMEOUT_S, open_channel, sync_channel, wait_serving
from icc_rpc.errors import FieldViolation, RpcError
from icc_rpc.server import Context, GrpcServer, start_server
from icc_rpc.tls import TlsConfig

__all__ = [
    "ANYONE",
    "DEFAULT_TIMEOUT_S",
    "Context",
    "FieldViolation",
    "GrpcServer",
    "Policy",
    "RpcError",
    "Rule",
    "TlsConfig",
    "allow",
    "open_channel",
    "scope",
    "start_server",
    "sync_channel",
    "wait_serving",
]
