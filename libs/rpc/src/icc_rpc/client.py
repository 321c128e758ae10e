"""Client channels with tracing; every call must still pass `timeout=`."""

import grpc

from icc_telemetry import client_interceptors

# Deadline for a unary call when the caller has no better figure.
DEFAULT_TIMEOUT_S = 5.0


def open_channel(target: str) -> grpc.aio.Channel:
    """An insecure aio channel to `host:port` that propagates trace context."""
    return grpc.aio.insecure_channel(target, interceptors=client_interceptors())
