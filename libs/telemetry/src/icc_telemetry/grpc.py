"""gRPC interceptors that carry W3C context and make RPC spans; health checks untraced."""

from typing import Any

from opentelemetry.instrumentation.grpc import (
    aio_client_interceptors,
    aio_server_interceptor,
    filters,
)

_NOT_HEALTH = filters.negate(filters.health_check())


def server_interceptor() -> Any:
    """Interceptor for `grpc.aio.server(interceptors=[...])`."""
    return aio_server_interceptor(filter_=_NOT_HEALTH)  # type: ignore[no-untyped-call]


def client_interceptors() -> list[Any]:
    """Interceptors for `grpc.aio.insecure_channel(..., interceptors=...)`."""
    return list(aio_client_interceptors(filter_=_NOT_HEALTH))  # type: ignore[no-untyped-call]
