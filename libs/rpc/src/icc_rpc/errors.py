"""Errors as gRPC status with `google.rpc` details (BadRequest, ErrorInfo)."""

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

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

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    @classmethod
    def invalid(cls, violations: list[FieldViolation]) -> "RpcError":
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {summary}", violations)

    def to_status(self) -> grpc.Status:
        details: list[any_pb2.Any] = []
        if self.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description
                    )
                    for v in self.violations
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
        status = status_pb2.Status(
            code=getattr(code_pb2, self.code.name), message=self.message, details=details
        )
        result: grpc.Status = rpc_status.to_status(status)
        return result


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
