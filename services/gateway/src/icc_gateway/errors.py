"""Errors as API.md says: `{"error": {"code", "message", "fields"}}` with its status.

The one place where gRPC status and request validation become HTTP answers.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry import trace

from icc_gateway.schemas import ErrorCode, ErrorDetail, ErrorField, ErrorResponse
from icc_rpc.errors import field_violations

log = logging.getLogger(__name__)


@dataclass
class ApiError(Exception):
    status: int
    code: ErrorCode
    message: str
    fields: list[ErrorField] = field(default_factory=list)
    # Response headers the answer carries (Retry-After).
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        detail = ErrorDetail(code=self.code, message=self.message, fields=self.fields)
        return ErrorResponse(error=detail).model_dump()

    @classmethod
    def invalid(
        cls, fields: Sequence[ErrorField], message: str = "", status: int = 400
    ) -> "ApiError":
        summary = "; ".join(f"{f.field}: {f.description}" for f in fields)
        text = message or f"Invalid request: {summary}"
        return cls(status, "invalid_argument", text, list(fields))


def unauthenticated(message: str = "Sign in first.") -> ApiError:
    return ApiError(401, "unauthenticated", message)


def permission_denied(message: str) -> ApiError:
    return ApiError(403, "permission_denied", message)


def too_many_attempts(wait_s: int) -> ApiError:
    """429: sign-in is locked for `wait_s` more seconds (said in the message and in
    Retry-After, which the screen reads to say when to try again)."""
    when = f"{wait_s} seconds" if wait_s < 120 else f"{-(-wait_s // 60)} minutes"
    return ApiError(
        429,
        "resource_exhausted",
        f"Too many failed sign-ins for this account or from this address; try again in {when}.",
        headers={"Retry-After": str(wait_s)},
    )


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, "unavailable", message)


# Codes for HTTP statuses raised outside our own code (routing, static files).
HTTP_CODES: dict[int, ErrorCode] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "resource_exhausted",
    503: "unavailable",
}

_CONFLICT = (
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.ALREADY_EXISTS,
)
_DOWN = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


# What a service's field names are prefixed with, where the API's request has the fields
# themselves: the incident, the caution, the point asked about.
_NESTED = ("incident.", "caution.")


def api_field(name: str) -> str:
    """A service's field name as the API's request names it: `incident.location.lat` ->
    `lat`, `incident.caller.phone` -> `caller.phone`, `caution.text` -> `text`; the
    resource in the path -> `id`; the point of a search -> `location`."""
    if name in ("incident", "name", "parent"):
        return "id"
    if name == "near":
        return "location"
    rest = name
    for prefix in _NESTED:
        rest = rest.removeprefix(prefix)
    if rest.startswith(("location.", "near.")):
        return rest.partition(".")[2]
    return rest


def from_rpc(exc: grpc.aio.AioRpcError, service: str) -> ApiError:
    """The API's answer to a failed call to `service` (e.g. "incidents")."""
    code = exc.code()
    message = exc.details() or code.name
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        fields = [
            ErrorField(field=api_field(v.field), description=v.description)
            for v in field_violations(exc)
        ]
        # The request passed the API's own rules (the OpenAPI document): what the service
        # refused is its content, for a rule the document cannot state (422, not 400).
        if fields:
            return ApiError.invalid(fields, status=422)
        return ApiError(422, "invalid_argument", message)
    if code == grpc.StatusCode.NOT_FOUND:
        return not_found(message)
    if code in _CONFLICT:
        return ApiError(409, "conflict", message)
    if code in _DOWN:
        return unavailable(f"The {service} service is not answering; try again in a moment.")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return permission_denied(message)
    ctx = trace.get_current_span().get_span_context()
    trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else "none"
    # The code and the trace id only: a service's message may quote what it was sent.
    log.error(
        "service call failed",
        extra={"service": service, "grpc_code": code.name, "trace_id": trace_id},
    )
    return ApiError(
        500, "internal", f"The {service} service failed ({code.name}); trace {trace_id}."
    )


def from_validation(errors: Sequence[Any]) -> ApiError:
    """FastAPI's request validation errors, in the same shape as the services' own."""
    fields = []
    for error in errors:
        if error.get("type") == "json_invalid":
            fields.append(ErrorField(field="body", description="not valid JSON"))
            continue
        name = ""
        for part in error.get("loc", ())[1:]:  # after "body", "query", "path", "header"
            name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
        # Pydantic's messages are readable ("Field required"; a rule's own sentence, less
        # its "Value error, "); the input is not repeated back, it may be personal data.
        text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        fields.append(ErrorField(field=name or "body", description=text))
    return ApiError.invalid(fields)
