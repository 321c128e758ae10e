"""Errors as gRPC status with `google.rpc` details (BadRequest, ErrorInfo)."""

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from icc_kernel.errors import (
    ConcurrentChange,
    DomainError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    StaleEtag,
    Transient,
    Unavailable,
)

ERROR_DOMAIN = "icc.hcmc.vn"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class RpcError(Exception):
    """An error to answer with: a status code, a message, and optional details.

    Raise it from a servicer (or map domain errors to it in one place); the
    server interceptor turns it into a status with `google.rpc` details.
    """

    code: grpc.StatusCode
    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # Sent as `google.rpc.RetryInfo`: the same call may succeed after this long.
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    @classmethod
    def unavailable(cls, what: str, retry_after_s: float = 1.0) -> "RpcError":
        """UNAVAILABLE with a retry hint: a passing fault (a database or the bus away)."""
        return cls(
            grpc.StatusCode.UNAVAILABLE,
            f"{what} is unavailable for now; retry in {retry_after_s:g} s",
            reason="TEMPORARILY_UNAVAILABLE",
            retry_after_s=retry_after_s,
        )

    @classmethod
    def invalid(cls, violations: list[FieldViolation]) -> "RpcError":
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {summary}", violations)

    def to_status(self) -> grpc.Status:
        """The status with its details, each text clipped: an answer quotes what it was
        sent, and headers past gRPC's 16 KiB would reach the caller as a dropped stream."""
        details: list[any_pb2.Any] = []
        if self.violations:
            shown = self.violations[:_MOST_VIOLATIONS]
            if len(self.violations) > len(shown):
                more = len(self.violations) - len(shown)
                shown = [*shown, FieldViolation("...", f"and {more} more")]
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=_clip(v.field, 100), description=_clip(v.description, 240)
                    )
                    for v in shown
                ]
            )
            packed = any_pb2.Any()
            packed.Pack(bad_request)
            details.append(packed)
        if self.reason:
            info = error_details_pb2.ErrorInfo(
                reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata
            )
            packed = any_pb2.Any()
            packed.Pack(info)
            details.append(packed)
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromMilliseconds(round(self.retry_after_s * 1000))
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
            details.append(packed)
        status = status_pb2.Status(
            code=getattr(code_pb2, self.code.name),
            message=_clip(self.message, 600),
            details=details,
        )
        result: grpc.Status = rpc_status.to_status(status)
        return result


# At most this many field violations in an answer (the rest are counted).
_MOST_VIOLATIONS = 8


def _clip(text: str, most_bytes: int) -> str:
    """`text` in at most `most_bytes` of UTF-8 (and an ellipsis when cut)."""
    data = text.encode()
    if len(data) <= most_bytes:
        return text
    return data[: most_bytes - 3].decode(errors="ignore") + "…"


# Domain errors in the order they are tested (subclasses before their bases), with the
# status and the `ErrorInfo.reason` each is answered with.
_STATUS: list[tuple[type[DomainError], grpc.StatusCode, str]] = [
    (NotFound, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    (Forbidden, grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN"),
    (StaleEtag, grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
    (ConcurrentChange, grpc.StatusCode.ABORTED, "CONCURRENT_CHANGE"),
    (IllegalTransition, grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_TRANSITION"),
    (Unavailable, grpc.StatusCode.FAILED_PRECONDITION, "UNITS_UNAVAILABLE"),
]


def to_rpc_error(exc: Exception) -> RpcError:
    """The one place where domain errors become gRPC status; anything else is re-raised."""
    if isinstance(exc, InvalidInput):
        return RpcError.invalid([FieldViolation(v.field, v.description) for v in exc.violations])
    if isinstance(exc, Transient):
        return RpcError(
            grpc.StatusCode.UNAVAILABLE,
            str(exc),
            reason="TEMPORARILY_UNAVAILABLE",
            retry_after_s=exc.retry_after_s,
        )
    for kind, code, reason in _STATUS:
        if isinstance(exc, kind):
            # Not worth retrying as is: the names say which to choose differently.
            names = {"units": ",".join(sorted(exc.reasons))} if isinstance(exc, Unavailable) else {}
            return RpcError(code, str(exc), reason=reason, metadata=names)
    raise exc


def retry_delay_s(error: grpc.aio.AioRpcError | grpc.RpcError) -> float | None:
    """Client side: the `google.rpc.RetryInfo` delay an error carries, if any."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToMilliseconds()) / 1000
    return None


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[FieldViolation]:
    """Client side: the BadRequest field violations carried by an error, if any."""
    status = rpc_status.from_call(error)
    found: list[FieldViolation] = []
    if status is None:
        return found
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend(
                FieldViolation(v.field, v.description) for v in bad_request.field_violations
            )
    return found
