"""Client channels with mutual TLS and tracing; every call must still pass `timeout=`.

`credentials` are the calling process's (`TlsConfig.channel_credentials()`, or the test
PKI's); None makes a plaintext channel, which only the benchmark's comparison uses: every
ICC server refuses one otherwise."""

import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from icc_telemetry import client_interceptors

# Deadline for a unary call when the caller has no better figure.
DEFAULT_TIMEOUT_S = 5.0


def tls_options(target: str) -> list[tuple[str, str]]:
    """The name a server's certificate must carry, for a target listing several addresses
    (`ipv4:10.0.0.1:50052,10.0.0.2:50052`): the first one's host, which gRPC would not
    otherwise know (a single `host:port` is checked against its host)."""
    scheme, _, rest = target.partition(":")
    if scheme not in ("ipv4", "ipv6") or "," not in rest:
        return []
    host = rest.split(",")[0].rsplit(":", 1)[0].strip("[]")
    return [("grpc.ssl_target_name_override", host)]


def open_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    """An aio channel to `target` that propagates trace context."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, interceptors=client_interceptors())
    return grpc.aio.secure_channel(
        target, credentials, tls_options(target), interceptors=client_interceptors()
    )


def sync_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    """A blocking channel (command-line tools, start-up checks)."""
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials, tls_options(target))


def wait_serving(
    target: str,
    credentials: grpc.ChannelCredentials | None,
    *,
    timeout_s: float,
    still_running: Callable[[], None] = lambda: None,
) -> bool:
    """Poll gRPC health at `target` until it answers SERVING; False when time runs out.

    `still_running` is called between polls and raises when the process being
    waited for has died, so a crash is reported at once, not after the timeout.
    """
    deadline = time.monotonic() + timeout_s
    with sync_channel(target, credentials) as channel:
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
