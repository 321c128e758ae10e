"""OTLP protobuf spans to `Span`: ids in hex, AnyValue attributes to plain JSON values."""

from collections.abc import Callable, Iterable
from typing import TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

from icc_tracesink.model import Event, JsonValue, Link, Span

UNKNOWN_SERVICE = "unknown_service"

_V = TypeVar("_V")  # a protobuf enum's value type


def spans_of_request(request: ExportTraceServiceRequest) -> list[Span]:
    out: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        service_name = service if isinstance(service, str) and service else UNKNOWN_SERVICE
        for scope_spans in resource_spans.scope_spans:
            out.extend(decode_span(s, service_name) for s in scope_spans.spans)
    return out


def decode_span(s: trace_pb2.Span, service: str) -> Span:
    return Span(
        trace_id=s.trace_id.hex(),
        span_id=s.span_id.hex(),
        # Empty bytes mean a root span.
        parent_span_id=s.parent_span_id.hex() or None,
        service=service,
        name=s.name,
        kind=_enum_name(trace_pb2.Span.SpanKind.Name, s.kind, "SPAN_KIND_"),
        start_ns=s.start_time_unix_nano,
        end_ns=s.end_time_unix_nano,
        status_code=_enum_name(trace_pb2.Status.StatusCode.Name, s.status.code, "STATUS_CODE_"),
        status_message=s.status.message,
        attributes=attributes(s.attributes),
        events=tuple(Event(e.name, e.time_unix_nano, attributes(e.attributes)) for e in s.events),
        links=tuple(Link(link.trace_id.hex(), link.span_id.hex()) for link in s.links),
    )


def attributes(kvs: Iterable[KeyValue]) -> dict[str, JsonValue]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def any_value(v: AnyValue) -> JsonValue:
    match v.WhichOneof("value"):
        case "string_value":
            return v.string_value
        case "bool_value":
            return v.bool_value
        case "int_value":
            return v.int_value
        case "double_value":
            return v.double_value
        case "array_value":
            return [any_value(item) for item in v.array_value.values]
        case "kvlist_value":
            return attributes(v.kvlist_value.values)
        case "bytes_value":
            return v.bytes_value.hex()  # JSON has no bytes; hex is how ids are shown anyway
        case _:
            return None


def _enum_name(name_of: Callable[[_V], str], number: _V, prefix: str) -> str:
    try:
        name = name_of(number)
    except ValueError:  # a newer sender's value this proto version does not know
        return str(number)
    return name.removeprefix(prefix)
