"""The Prometheus endpoint: OpenTelemetry instruments scraped over HTTP."""

import re
import socket

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource

from icc_telemetry import TelemetryConfig, setup_telemetry
from icc_telemetry.setup import PrometheusEndpoint


def test_metrics_port_comes_from_the_environment() -> None:
    for off in ({}, {"ICC_METRICS_PORT": ""}, {"ICC_METRICS_PORT": "0"}):
        assert TelemetryConfig.from_env("x", off).metrics_port is None
    config = TelemetryConfig.from_env("x", {"ICC_METRICS_PORT": "9464"})
    assert config.metrics_port == 9464
    assert config.metrics_host == "127.0.0.1"
    assert (
        TelemetryConfig.from_env(
            "x", {"ICC_METRICS_PORT": "9464", "ICC_METRICS_HOST": "0.0.0.0"}
        ).metrics_host
        == "0.0.0.0"
    )
    with pytest.raises(ValueError, match="ICC_METRICS_PORT"):
        TelemetryConfig.from_env("x", {"ICC_METRICS_PORT": "metrics"})
    with pytest.raises(ValueError, match="ICC_METRICS_PORT"):
        TelemetryConfig.from_env("x", {"ICC_METRICS_PORT": "70000"})


def test_instruments_are_served_in_prometheus_format_until_shutdown() -> None:
    # A provider of its own: the process-wide one belongs to the test plugin.
    endpoint = PrometheusEndpoint()
    provider = MeterProvider(
        resource=Resource.create({"service.name": "probe"}), metric_readers=[endpoint.reader]
    )
    port = endpoint.serve("127.0.0.1", 0)
    assert endpoint.port == port
    try:
        meter = provider.get_meter("probe")
        meter.create_counter("icc.probe.calls", unit="{call}").add(3, {"icc.probe.kind": "a"})
        meter.create_histogram(
            "icc.probe.wait", unit="s", explicit_bucket_boundaries_advisory=[1, 5]
        ).record(2.5)
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert reply.status_code == 200
        text = reply.text
        assert "# TYPE icc_probe_calls_total counter" in text
        assert 'icc_probe_calls_total{icc_probe_kind="a"' in text
        # The advisory's buckets: 2.5 s is above 1 and within 5.
        assert re.search(r'icc_probe_wait_seconds_bucket\{[^}]*le="1(\.0)?"[^}]*\} 0.0', text)
        assert re.search(r'icc_probe_wait_seconds_bucket\{[^}]*le="5(\.0)?"[^}]*\} 1.0', text)
        assert "icc_probe_wait_seconds_count" in text
        assert 'service_name="probe"' in text  # target_info names the service
        assert "process_cpu_seconds_total" in text  # the usual process metrics too
    finally:
        endpoint.stop()
        provider.shutdown()
    endpoint.stop()  # twice is harmless
    with pytest.raises(httpx.ConnectError):  # nothing listens any more
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_a_taken_metrics_port_fails_setup_with_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # Fails before installing anything globally, so the test plugin's providers stay.
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            setup_telemetry(TelemetryConfig("x"), metrics_port=port, configure_logging=False)
