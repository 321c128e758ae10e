"""Errors with details, and servers that say clearly when their port is taken."""

from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from icc_rpc import ANYONE, FieldViolation, Policy, RpcError, start_server
from icc_rpc.errors import field_violations
from icc_testing import Pki, RecordedMetrics

ECHO = "/test.Echo/Say"
POLICY = Policy("test.Echo", {"Say": ANYONE})
EXPIRY = "icc.tls.certificate.expiry"


def _register(server: grpc.aio.Server) -> None:
    async def say(request: bytes, context: grpc.aio.ServicerContext) -> bytes:  # type: ignore[type-arg]
        if request == b"bad":
            raise RpcError.invalid([FieldViolation("text", "must not be bad")])
        if request == b"boom":
            raise RuntimeError("INSERT ... parameters: ('Nguyễn Văn A', '0909123456')")
        if request == b"late":
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, "too late", reason="TOO_LATE")
        return request

    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}
    )
    server.add_generic_rpc_handlers((handler,))


async def test_errors_carry_field_violations(pki: Pki) -> None:
    server = await start_server(
        "127.0.0.1:0", _register, ["test.Echo"], tls=pki.tls("incidents"), policies=[POLICY]
    )
    try:
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{server.port}", pki.credentials()
        ) as channel:
            say = channel.unary_unary(ECHO)
            assert await say(b"hi", timeout=5) == b"hi"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await say(b"bad", timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field_violations(err.value) == [FieldViolation("text", "must not be bad")]
            assert "text: must not be bad" in (err.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await say(b"late", timeout=5)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await say(b"boom", timeout=5)
            assert err.value.code() == grpc.StatusCode.INTERNAL
            assert "RuntimeError" in (err.value.details() or "")
            assert "0909123456" not in (err.value.details() or "")  # no data in the answer
    finally:
        await server.stop(0)


async def test_port_in_use_is_a_clear_error(pki: Pki) -> None:
    first = await start_server(
        "127.0.0.1:0", _register, [], tls=pki.tls("incidents"), policies=[POLICY]
    )
    try:
        with pytest.raises(OSError, match="in use"):
            await start_server(
                f"127.0.0.1:{first.port}",
                _register,
                [],
                tls=pki.tls("incidents"),
                policies=[POLICY],
            )
    finally:
        await first.stop(0)


async def test_each_call_is_a_server_span_continuing_the_callers_trace(
    pki: Pki,
    spans: InMemorySpanExporter,
) -> None:
    server = await start_server(
        "127.0.0.1:0", _register, ["test.Echo"], tls=pki.tls("incidents"), policies=[POLICY]
    )
    tracer = trace.get_tracer("test")
    try:
        async with grpc.aio.secure_channel(
            f"127.0.0.1:{server.port}", pki.credentials()
        ) as channel:
            say = channel.unary_unary(ECHO)
            with tracer.start_as_current_span("caller") as caller:
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                await say(b"hi", timeout=5, metadata=tuple(carrier.items()))
            for text in (b"bad", b"boom"):
                with pytest.raises(grpc.aio.AioRpcError):
                    await say(text, timeout=5)
            health = health_pb2_grpc.HealthStub(channel)
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        await server.stop(0)
    served = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.name for s in served] == [ECHO] * 3  # health checks are not traced
    ok, bad, boom = served
    assert ok.parent is not None and ok.parent.span_id == caller.get_span_context().span_id
    assert ok.context.trace_id == caller.get_span_context().trace_id
    assert dict(ok.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "test.Echo",
        "rpc.method": "Say",
        "rpc.grpc.status_code": 0,
    }
    # A refused argument is an answer; an internal failure is the server's error.
    assert (bad.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[
        0
    ]
    assert bad.status.status_code.name != "ERROR"
    assert boom.status.status_code.name == "ERROR"
    assert not boom.events  # no exception text (it quoted a caller's data)


async def test_a_server_exports_when_its_certificate_and_cas_expire(
    pki: Pki, metrics: RecordedMetrics, tmp_path: Path
) -> None:
    # The CA file as during a rotation: the old CA and the new one, both trusted.
    own = pki.tls("incidents")
    bundle = tmp_path / "ca-bundle.crt"
    bundle.write_bytes(pki.ca.cert_pem + pki.other_ca.cert_pem)
    server = await start_server(
        "127.0.0.1:0",
        _register,
        [],
        tls=replace(own, ca=bundle),
        policies=[POLICY],
    )
    try:
        metrics.collect()
        seen = {
            (str(a["certificate"]), str(a["subject"])): metrics.gauge(EXPIRY, a)
            for a in metrics.attribute_sets(EXPIRY)
        }
    finally:
        await server.stop(0)
    cert = x509.load_pem_x509_certificate(pki.issued("incidents").cert_pem)
    subject = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert seen[("own", subject)] == cert.not_valid_after_utc.timestamp()
    for ca in (pki.ca, pki.other_ca):
        ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
        name = str(ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        assert seen[("ca", name)] == ca_cert.not_valid_after_utc.timestamp()
