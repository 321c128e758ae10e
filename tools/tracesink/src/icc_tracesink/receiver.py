"""The OTLP/gRPC receiver: spans into the store, metrics accepted and dropped."""

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from icc_tracesink.decode import spans_of_request
from icc_tracesink.store import SpanStore

log = logging.getLogger(__name__)

# OTLP batches of big spans can pass gRPC's 4 MiB default; a refused batch is lost for good.
_MAX_MESSAGE = 64 * 1024 * 1024

_Context = grpc.aio.ServicerContext[object, object]


class TraceReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Decodes and stores each batch on the one writer thread, so the event loop only waits.

    One thread also keeps SQLite's writes in arrival order with no lock contention.
    """

    def __init__(self, store: SpanStore, writer: ThreadPoolExecutor) -> None:
        self._store = store
        self._writer = writer

    async def Export(
        self, request: ExportTraceServiceRequest, context: _Context
    ) -> ExportTraceServiceResponse:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, self._write, request)
        except sqlite3.Error as exc:
            log.error("cannot store spans: %s", exc)
            # UNAVAILABLE makes the exporter retry the batch (a locked or full disk may pass).
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot store spans: {exc}")
        return ExportTraceServiceResponse()

    def _write(self, request: ExportTraceServiceRequest) -> None:
        self._store.insert(spans_of_request(request))


class MetricsDiscarder(metrics_service_pb2_grpc.MetricsServiceServicer):
    """Accepts OTLP metrics and drops them.

    Services send metrics to the same OTLP endpoint as spans; without this they would log an
    export error every interval. Locally, metrics are read from each service's Prometheus
    endpoint (`ICC_METRICS_PORT`, `/metrics`), not from here.
    """

    async def Export(
        self, request: ExportMetricsServiceRequest, context: _Context
    ) -> ExportMetricsServiceResponse:
        return ExportMetricsServiceResponse()


@dataclass
class Receiver:
    server: grpc.aio.Server
    port: int
    writer: ThreadPoolExecutor

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop taking batches, let those in flight finish, then wait for their writes."""
        await self.server.stop(grace_s)
        await asyncio.to_thread(self.writer.shutdown, wait=True)


async def start_receiver(address: str, store: SpanStore) -> Receiver:
    """Listen on `address` (`host:port`; port 0 picks one)."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.so_reuseport", 0),  # a second sink on the same port must fail, not share it
        ]
    )
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracesink-writer")
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        TraceReceiver(store, writer), server
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        MetricsDiscarder(), server
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc's way of saying the address is taken or invalid
        writer.shutdown()
        raise OSError(f"cannot listen on {address}: {exc}") from exc
    await server.start()
    return Receiver(server, port, writer)
