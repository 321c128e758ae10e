"""The trace path of the deployment, checked without a Docker engine or a cluster.

Compose and Kubernetes send spans from the services to the OpenTelemetry Collector, which
exports them to Jaeger and to the trace sink; the gateway asks the sink for an incident's
timeline. Here: the names and ports of that path agree across `docker-compose.yml`,
`deploy/otel-collector.yaml`, the sink's image (`tools/tracesink/Dockerfile`) and
`deploy/k8s/`; then the sink runs as a process with its image's and compose's
environment (container addresses moved to free loopback ports), receives an incident's
spans over OTLP/gRPC at the address the collector's exporter names, as the collector would
send them, and the gateway's own client, at the URL compose gives the gateway, serves the
screen that incident's timeline, without the screen's own reads.
"""

import asyncio
import os
import shlex
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from icc_gateway.traces import TraceSink
from icc_testing import free_port
from icc_testing.pki import Pki

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = "0123456789abcdef"


def _yaml(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))


def _k8s(name: str) -> Any:
    return _yaml(f"deploy/k8s/{name}")


def _image_env(dockerfile: str) -> dict[str, str]:
    """The `ENV` of a Dockerfile, continuation lines joined."""
    text = (ROOT / dockerfile).read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for token in shlex.split(line[4:]):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


@pytest.fixture(scope="module")
def compose() -> Any:
    return _yaml("docker-compose.yml")


def _sink_exporter() -> str:
    """The endpoint of the collector's trace exporter that goes to the sink."""
    collector = _yaml("deploy/otel-collector.yaml")
    exporters = collector["service"]["pipelines"]["traces"]["exporters"]
    to_sink = [
        e for e in exporters if collector["exporters"][e]["endpoint"].split(":")[0] == "tracesink"
    ]
    assert len(to_sink) == 1, exporters
    assert any("jaeger" in e for e in exporters)  # beside Jaeger, not instead
    return str(collector["exporters"][to_sink[0]]["endpoint"])


def _compose_sink_env(compose: Any) -> dict[str, str]:
    service = compose["services"]["tracesink"]
    return {**_image_env(service["build"]["dockerfile"]), **service["environment"]}


def test_compose_names_one_path_from_the_services_to_the_screen(compose: Any) -> None:
    sink_env = _compose_sink_env(compose)
    collector_to_sink = _sink_exporter()
    assert sink_env["ICC_TRACESINK_ADDR"] == f"0.0.0.0:{_port(collector_to_sink)}"
    assert "tracesink" in compose["services"]["otel-collector"]["depends_on"]
    gateway_url = urlsplit(compose["services"]["gateway"]["environment"]["ICC_TRACESINK_QUERY_URL"])
    assert (gateway_url.scheme, gateway_url.hostname) == ("https", "tracesink")
    assert sink_env["ICC_TRACESINK_QUERY_ADDR"] == f"0.0.0.0:{gateway_url.port}"
    # The query endpoint's certificate is mounted: without it the endpoint stays closed.
    mounted = set(compose["services"]["tracesink"]["secrets"])
    for variable in ("ICC_TLS_CA", "ICC_TLS_CERT", "ICC_TLS_KEY"):
        assert sink_env[variable].removeprefix("/run/secrets/") in mounted
    # The spans are kept on the volume, and not for ever.
    assert any(v.endswith(":/data") for v in compose["services"]["tracesink"]["volumes"])
    assert sink_env["ICC_TRACESINK_DB"].startswith("/data/")
    assert float(sink_env["ICC_TRACESINK_RETENTION_H"]) > 0
    assert int(sink_env["ICC_TRACESINK_MAX_SPANS"]) > 0
    # Every service exports to the collector's OTLP/gRPC receiver.
    collector = _yaml("deploy/otel-collector.yaml")
    receiver = collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    for name in ("incidents", "resources", "dispatch", "gateway"):
        endpoint = urlsplit(compose["services"][name]["environment"]["ICC_OTLP_ENDPOINT"])
        assert (endpoint.hostname, endpoint.port) == ("otel-collector", _port(receiver))


def test_kubernetes_names_the_same_path() -> None:
    config = _k8s("tracesink-configmap.yaml")["data"]
    service = _k8s("tracesink-service.yaml")["spec"]["ports"]
    container = _k8s("tracesink-deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    by_port = {p["port"]: container_ports[p["targetPort"]] for p in service}
    assert by_port[_port(_sink_exporter())] == _port(config["ICC_TRACESINK_ADDR"])
    gateway_url = urlsplit(_k8s("gateway-configmap.yaml")["data"]["ICC_TRACESINK_QUERY_URL"])
    assert gateway_url.scheme == "https"
    assert gateway_url.hostname == _k8s("tracesink-service.yaml")["metadata"]["name"]
    tls = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "tls")
    for variable in ("ICC_TLS_CA", "ICC_TLS_CERT", "ICC_TLS_KEY"):
        assert config[variable].startswith(tls + "/")
    assert by_port[gateway_url.port] == _port(config["ICC_TRACESINK_QUERY_ADDR"])
    assert config["ICC_TRACESINK_DB"].startswith(
        next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
    )


@pytest.fixture
def sink_as_composed(compose: Any, tmp_path: Path, pki: Pki) -> Iterator[dict[str, str]]:
    """The sink with its compose environment; container ports moved to loopback ports,
    its mounted certificate to the test CA's files. Yields where each `tracesink:PORT` of
    the compose network is here."""
    env = {**_compose_sink_env(compose), **pki.env("tracesink")}
    moved = {}
    for variable in ("ICC_TRACESINK_ADDR", "ICC_TRACESINK_QUERY_ADDR"):
        here = f"127.0.0.1:{free_port()}"
        moved[f"tracesink:{_port(env[variable])}"] = here
        env[variable] = here
    env["ICC_TRACESINK_DB"] = str(tmp_path / Path(env["ICC_TRACESINK_DB"]).name)
    with (tmp_path / "tracesink.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "icc_tracesink.main"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    query = env["ICC_TRACESINK_QUERY_ADDR"]
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (tmp_path / "tracesink.log").read_text()
            try:
                probe = httpx.get(
                    f"https://{query}/healthz",
                    timeout=1,
                    verify=ssl.create_default_context(cafile=pki.ca_path),
                )
                if probe.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the sink did not answer /healthz"
            time.sleep(0.1)
        yield moved
    finally:
        process.terminate()
        process.wait(timeout=10)


def _send_an_incidents_spans(otlp: str) -> None:
    """An incident's call, dispatch's choice and reservation, and a screen's read of it,
    sent as the collector's OTLP exporter sends them."""
    provider = TracerProvider(resource=Resource.create({"service.name": "incidents"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://{otlp}", insecure=True))
    )
    tracer = provider.get_tracer("test")
    about = {"icc.incident.id": INCIDENT}
    with (
        tracer.start_as_current_span(
            "/icc.incident.v1.IncidentService/CreateIncident",
            kind=SpanKind.SERVER,
            attributes={**about, "rpc.method": "CreateIncident"},
        ),
        tracer.start_as_current_span("dispatch incident", attributes=about),
        tracer.start_as_current_span("reserve units", attributes=about),
    ):
        pass
    with tracer.start_as_current_span(
        "GET /api/v1/incidents/{id}",
        kind=SpanKind.SERVER,
        attributes={**about, "http.method": "GET"},
    ):
        pass
    provider.shutdown()


def test_the_screen_gets_an_incidents_timeline_through_the_composed_path(
    compose: Any, sink_as_composed: dict[str, str], pki: Pki
) -> None:
    _send_an_incidents_spans(sink_as_composed[_sink_exporter()])
    url = urlsplit(compose["services"]["gateway"]["environment"]["ICC_TRACESINK_QUERY_URL"])
    here = sink_as_composed[f"{url.hostname}:{url.port}"]
    waterfall = f"https://{here}/incidents/{INCIDENT}/waterfall"
    # Nobody's certificate: refused.
    assert (
        httpx.get(
            waterfall, timeout=5, verify=ssl.create_default_context(cafile=pki.ca_path)
        ).status_code
        == 401
    )
    engineer = pki.tls("oncall").https_context()
    timeline = httpx.get(waterfall, timeout=5, verify=engineer).json()
    assert [(s["operation"], s["step"]) for s in timeline["spans"]] == [
        ("/icc.incident.v1.IncidentService/CreateIncident", "intake"),
        ("dispatch incident", "decision"),
        ("reserve units", "reservation"),
    ]
    assert timeline["reads_hidden"] == 1

    async def served() -> Any:
        sink = TraceSink(f"https://{here}", tls=pki.tls("gateway"))
        try:
            return await sink.waterfall(INCIDENT)
        finally:
            await sink.close()

    trace = asyncio.run(served())
    assert [s.operation for s in trace.spans] == [s["operation"] for s in timeline["spans"]]
    assert [s.step for s in trace.spans] == [s["step"] for s in timeline["spans"]]
    assert trace.reads_hidden == 1
