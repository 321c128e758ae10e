"""gRPC server and client set-up shared by ICC services."""

from icc_rpc.client import DEFAULT_TIMEOUT_S, open_channel, wait_serving
from icc_rpc.errors import FieldViolation, RpcError
from icc_rpc.server import Context, GrpcServer, start_server

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "Context",
    "FieldViolation",
    "GrpcServer",
    "RpcError",
    "open_channel",
    "start_server",
    "wait_serving",
]
