"""Process-wide telemetry set-up from `ICC_*` environment variables.

`ICC_OTLP_ENDPOINT` (e.g. `http://127.0.0.1:4317`) turns on OTLP/gRPC export of
spans and metrics; unset means no exporter at all, so a missing collector never
slows start-up or shutdown (the OTLP exporter retries for seconds otherwise).
"""

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter


@dataclass(frozen=True)
class TelemetryConfig:
    service_name: str
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    environment: str = "local"

    @classmethod
    def from_env(cls, service_name: str, env: Mapping[str, str] = os.environ) -> "TelemetryConfig":
        return cls(
            service_name=service_name,
            otlp_endpoint=env.get("ICC_OTLP_ENDPOINT") or None,
            log_level=env.get("ICC_LOG_LEVEL", "INFO").upper(),
            environment=env.get("ICC_ENVIRONMENT", "local"),
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


@dataclass
class Telemetry:
    config: TelemetryConfig
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(
    config: TelemetryConfig,
    *,
    span_processors: list[SpanProcessor] | None = None,
    metric_readers: list[MetricReader] | None = None,
    configure_logging: bool = True,
) -> Telemetry:
    """Install tracer and meter providers globally and JSON logging on the root logger.

    Extra processors and readers are for tests (in-memory exporters) and tools.
    """
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
        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=config.otlp_endpoint, insecure=True)
            )
        )
    for processor in span_processors or []:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    if configure_logging:
        root = logging.getLogger()
        root.handlers[:] = [json_log_handler(config.service_name)]
        root.setLevel(config.log_level)
    return Telemetry(config, tracer_provider, meter_provider)
