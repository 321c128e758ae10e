"""gRPC server and client set-up shared by ICC services."""

from icc_rpc.client import DEFAULT_TIMEOUT_S, open_channel
from icc_rpc.errors import FieldViolation, RpcError, abort
from icc_rpc.server import GrpcServer, start_server

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "FieldViolation",
    "GrpcServer",
    "RpcError",
    "abort",
    "open_channel",
    "start_server",
]
