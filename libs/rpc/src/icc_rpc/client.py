"""Client channels with tracing; every call must still pass `timeout=`."""

import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc_telemetry import client_interceptors

# Deadline for a unary call when the caller has no better figure.
DEFAULT_TIMEOUT_S = 5.0


def open_channel(target: str) -> grpc.aio.Channel:
    """An insecure aio channel to `host:port` that propagates trace context."""
    return grpc.aio.insecure_channel(target, interceptors=client_interceptors())


def wait_serving(
    target: str, *, timeout_s: float, still_running: Callable[[], None] = lambda: None
) -> bool:
    """Poll gRPC health at `target` until it answers SERVING; False when time runs out.

    `still_running` is called between polls and raises when the process being
    waited for has died, so a crash is reported at once, not after the timeout.
    """
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            still_running()
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    return False
