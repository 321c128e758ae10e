"""Process-wide telemetry set-up from `ICC_*` environment variables.

`ICC_OTLP_ENDPOINT` (e.g. `http://127.0.0.1:4317`) turns on OTLP/gRPC export of
spans and metrics; unset means no exporter at all, so a missing collector never
slows start-up or shutdown (the OTLP exporter retries for seconds otherwise).

`ICC_METRICS_PORT` (unset, empty or 0: off) serves the metrics for Prometheus at
`http://ICC_METRICS_HOST:ICC_METRICS_PORT/metrics` (host default `127.0.0.1`; set
`0.0.0.0` where a scraper on another host must reach it). Both can be on at once.
"""

import logging
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter

from icc_kernel.settings import flag, whole

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer


@dataclass(frozen=True)
class TelemetryConfig:
    service_name: str
    otlp_endpoint: str | None = None
    # False: metrics go only to the Prometheus endpoint, not over OTLP (the local trace
    # sink drops them, and a second reader doubles what every measurement costs).
    otlp_metrics: bool = True
    log_level: str = "INFO"
    environment: str = "local"
    # None: no Prometheus endpoint. 0 (in code only; the variable's 0 means off): any free port.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, service_name: str, env: Mapping[str, str] = os.environ) -> "TelemetryConfig":
        return cls(
            service_name=service_name,
            otlp_endpoint=env.get("ICC_OTLP_ENDPOINT") or None,
            otlp_metrics=flag(env, "ICC_OTLP_METRICS", True),
            log_level=env.get("ICC_LOG_LEVEL", "INFO").upper(),
            environment=env.get("ICC_ENVIRONMENT", "local"),
            # 0 or unset: off.
            metrics_port=whole(env, "ICC_METRICS_PORT", 0, least=0, most=65535) or None,
            metrics_host=env.get("ICC_METRICS_HOST") or "127.0.0.1",
        )


class _TraceIds(logging.Filter):
    """Stamps every record with the current trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        return True


def json_log_handler(service_name: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service_name},
        )
    )
    handler.addFilter(_TraceIds())
    return handler


class PrometheusEndpoint:
    """A `PrometheusMetricReader` and the HTTP server that serves `/metrics` from it.

    The reader gets a registry of its own, not prometheus_client's global one: two
    meter providers in one process (tests) would otherwise serve each other's
    metrics, and the one global registry would outlive a shut-down provider. The
    process, GC and platform collectors the global registry carries are added back.
    """

    def __init__(self) -> None:
        # Imported here, like the OTLP exporter: ~30 ms a process without an endpoint
        # (the CLI, tools) need not pay.
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import (
            CollectorRegistry,
            GCCollector,
            PlatformCollector,
            ProcessCollector,
        )

        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.reader = PrometheusMetricReader(registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, host: str, port: int) -> int:
        """Serve on `host:port` (0: any free port) from a daemon thread; returns the port.

        Call once the reader is attached to a MeterProvider (a scrape before that
        collects nothing and logs a warning). Raises `OSError` when the port is taken.
        """
        from prometheus_client import start_http_server

        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_port)

    @property
    def port(self) -> int | None:
        return int(self._server.server_port) if self._server is not None else None

    def stop(self) -> None:
        """Stop serving and free the port; idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)


# Our own code logs ids, never personal data; libraries below INFO echo SQL parameters
# (aiosqlite, SQLAlchemy) and message payloads, which hold callers' names and phones.
OWN_LOGGERS = (
    "icc",
    "icc_bus",
    "icc_storage",
    "icc_telemetry",
    "icc_rpc",
    "icc_incidents",
    "icc_resources",
    "icc_dispatch",
    "icc_gateway",
    "icc_simulator",
    "icc_tracesink",
)


def configure_log_levels(level: str) -> None:
    """`level` for our loggers; libraries never below INFO, whatever `level` says."""
    numeric = logging.getLevelName(level)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    logging.getLogger().setLevel(max(numeric, logging.INFO))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)


@dataclass
class Telemetry:
    config: TelemetryConfig
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    prometheus: PrometheusEndpoint | None = None

    @property
    def metrics_port(self) -> int | None:
        """The port `/metrics` is served on, None without an endpoint."""
        return self.prometheus.port if self.prometheus is not None else None

    def shutdown(self) -> None:
        # The endpoint first: a scrape during shutdown would collect from a provider
        # that is going away.
        if self.prometheus is not None:
            self.prometheus.stop()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(
    config: TelemetryConfig,
    *,
    span_processors: list[SpanProcessor] | None = None,
    metric_readers: list[MetricReader] | None = None,
    configure_logging: bool = True,
    metrics_port: int | None = None,
) -> Telemetry:
    """Install tracer and meter providers globally and JSON logging on the root logger.

    Extra processors and readers are for tests (in-memory exporters) and tools.
    `metrics_port` overrides `config.metrics_port` (0: any free port, see
    `Telemetry.metrics_port`). Raises `OSError` when that port is taken.
    """
    if metrics_port is None:
        metrics_port = config.metrics_port
    resource = Resource.create(
        {"service.name": config.service_name, "deployment.environment": config.environment}
    )
    tracer_provider = TracerProvider(resource=resource)
    readers: list[MetricReader] = list(metric_readers or [])
    if config.otlp_endpoint:
        # Imported here: the exporter pulls in grpc channels we don't want without an endpoint.
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint, insecure=True))
        )
        if config.otlp_metrics:
            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=config.otlp_endpoint, insecure=True)
                )
            )
    prometheus = PrometheusEndpoint() if metrics_port is not None else None
    if prometheus is not None:
        readers.append(prometheus.reader)
    for processor in span_processors or []:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    if prometheus is not None and metrics_port is not None:
        try:
            prometheus.serve(config.metrics_host, metrics_port)
        except OSError as exc:
            meter_provider.shutdown()
            tracer_provider.shutdown()
            raise OSError(
                f"cannot serve metrics on {config.metrics_host}:{metrics_port}: "
                f"{exc.strerror or exc}"
            ) from exc
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    if configure_logging:
        configure_log_levels(config.log_level)
        logging.getLogger().handlers[:] = [json_log_handler(config.service_name)]
    return Telemetry(config, tracer_provider, meter_provider, prometheus)
