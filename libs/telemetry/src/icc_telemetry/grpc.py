"""gRPC client interceptors that carry W3C context and make RPC spans; health checks
untraced. (Server spans are made by icc_rpc's server, with its latency metric.)"""

from typing import Any

from opentelemetry.instrumentation.grpc import aio_client_interceptors
from opentelemetry.trace import Span

from icc_telemetry.ids import INCIDENT_ID, UNIT_ID, UNIT_STATUS

# The contract's enum of unit statuses, named on spans without its prefix.
_UNIT_STATUS_ENUM = "icc.resource.v1.UnitStatus"


def tag_request(span: Span, request: Any) -> None:
    """Names, on a client span, the incident and units its request is about: our requests
    say so in `incident`, `name` or `parent` (`incidents/...`) and `unit(s)` (`units/...`);
    and the unit status it asks for, if any."""
    for field in ("incident", "name", "parent"):
        value = getattr(request, field, None)
        if isinstance(value, str) and value.startswith("incidents/"):
            span.set_attribute(INCIDENT_ID, value.split("/")[1])
            break
    units = getattr(request, "units", None)
    if units is None:
        one = getattr(request, "unit", None) or getattr(request, "name", None)
        units = [one] if isinstance(one, str) else []
    ids = [u.split("/")[1] for u in units if isinstance(u, str) and u.startswith("units/")]
    if ids:
        span.set_attribute(UNIT_ID, ids[0] if len(ids) == 1 else ids)
    if status := _unit_status(request):
        span.set_attribute(UNIT_STATUS, status)


def _unit_status(request: Any) -> str | None:
    """The unit status a request asks for (`UpdateUnitStatus`), as `ON_SCENE`."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    field = descriptor.fields_by_name.get("status") if descriptor is not None else None
    if field is None or field.enum_type is None or field.enum_type.full_name != _UNIT_STATUS_ENUM:
        return None
    value = field.enum_type.values_by_number.get(getattr(request, "status", 0))
    if value is None or value.number == 0:
        return None
    return str(value.name).removeprefix("UNIT_STATUS_")


def client_interceptors() -> list[Any]:
    """Interceptors for `grpc.aio.insecure_channel(..., interceptors=...)`."""
    from opentelemetry.instrumentation.grpc import filters

    not_health = filters.negate(filters.health_check())
    return list(
        aio_client_interceptors(filter_=not_health, request_hook=tag_request)  # type: ignore[no-untyped-call]
    )
