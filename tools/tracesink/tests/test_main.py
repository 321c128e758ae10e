"""`python -m icc_tracesink.main` as `icc run` starts it: listens, stores, stops on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from icc_testing import free_port
from icc_tracesink.store import SpanStore


def start_sink(port: int, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "icc_tracesink.main"],
        env={**os.environ, "ICC_TRACESINK_ADDR": f"127.0.0.1:{port}", "ICC_TRACESINK_DB": str(db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_listening(proc: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the sink did not listen within 15 s")


def test_the_sink_process_stores_spans_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "var" / "traces.db"
    proc = start_sink(port, db)
    try:
        wait_listening(proc, port)
        provider = TracerProvider(resource=Resource.create({"service.name": "dispatch"}))
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True))
        )
        with provider.get_tracer("test").start_as_current_span(
            "AssignUnits", attributes={"icc.incident.id": "inc1"}
        ):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert f"receiving OTLP/gRPC on 127.0.0.1:{port}, spans into {db}" in out
    store = SpanStore.open_readonly(db)
    try:
        spans = store.spans_of(store.traces_of_incident("inc1"))
    finally:
        store.close()
    assert [(s.service, s.name) for s in spans] == [("dispatch", "AssignUnits")]


def test_a_taken_port_is_reported_with_the_variable_to_change(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start_sink(port, tmp_path / "traces.db")
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 2, out
    assert "ICC_TRACESINK_ADDR" in out
