"""An aio gRPC server with health checking, reflection, tracing and error mapping."""

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from icc_rpc.errors import RpcError
from icc_telemetry import server_interceptor

log = logging.getLogger(__name__)


async def _internal(context: Any, exc: Exception) -> None:
    """An unexpected failure: INTERNAL with the trace id, never the exception's text.

    The text of a database or driver error can quote the data it was given.
    """
    ctx = trace.get_current_span().get_span_context()
    trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else "none"
    log.error("request failed", extra={"error": type(exc).__name__, "trace_id": trace_id})
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error ({type(exc).__name__}); trace {trace_id}. Retry later or report it.",
    )


Translate = Callable[[Exception], RpcError]


class _RpcErrorInterceptor(grpc.aio.ServerInterceptor):
    """The one place where errors become status: `RpcError` with its details, a
    service's domain errors through its `translate`, anything else INTERNAL."""

    def __init__(self, domain_errors: tuple[type[Exception], ...], translate: Translate) -> None:
        self._domain_errors = domain_errors
        self._translate = translate
        self._wrapped: dict[Any, Any] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(handler_call_details)
        if handler is None:
            return handler
        # Wrapped once per method: wrapping on every call cost a closure and a
        # handler object per request.
        wrapped = self._wrapped.get(handler)
        if wrapped is None:
            wrapped = self._wrap(handler)
            self._wrapped[handler] = wrapped
        return wrapped

    async def _fail(self, context: Any, exc: Exception) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        if isinstance(exc, self._domain_errors):
            exc = self._translate(exc)
        if isinstance(exc, RpcError):
            await context.abort_with_status(exc.to_status())
        await _internal(context, exc)

    def _wrap(self, handler: Any) -> Any:
        kw = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> Any:
                try:
                    async for item in inner_stream(request, context):
                        yield item
                except Exception as exc:
                    await self._fail(context, exc)

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kw)
        inner = handler.unary_unary or handler.stream_unary
        if inner is None:
            return handler

        # The same for one request or a stream of them: one awaited answer.
        async def call(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except Exception as exc:
                await self._fail(context, exc)

        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(call, **kw)
        return grpc.stream_unary_rpc_method_handler(call, **kw)


def _untranslated(exc: Exception) -> RpcError:
    raise exc


@dataclass
class GrpcServer:
    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer

    async def set_serving(self, service_names: Iterable[str], serving: bool = True) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *service_names]:
            await self.health.set(name, status)

    async def stop(self, grace_s: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def start_server(
    address: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
    *,
    domain_errors: tuple[type[Exception], ...] = (),
    translate: Translate | None = None,
) -> GrpcServer:
    """Bind (port 0 picks a free one), register services, health and reflection, start.

    `domain_errors` raised by a servicer are answered with `translate(error)`.

    Raises `OSError` with a readable message when the address is taken.
    """
    names = list(service_names)
    server = grpc.aio.server(
        interceptors=[
            server_interceptor(),
            _RpcErrorInterceptor(domain_errors, translate or _untranslated),
        ],
        options=[("grpc.so_reuseport", 0)],
    )
    register(server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: address in use or not available") from exc
    if port == 0:
        raise OSError(f"cannot listen on {address}: address in use or not available")
    await server.start()
    grpc_server = GrpcServer(server, port, health)
    await grpc_server.set_serving(names)
    log.info("grpc server listening", extra={"address": address, "port": port})
    return grpc_server
