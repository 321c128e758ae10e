"""Domain errors map to one gRPC status each, with the reason a client can act on."""

import grpc
import pytest

from icc_kernel.errors import (
    ConcurrentChange,
    IllegalTransition,
    InvalidInput,
    NotFound,
    StaleEtag,
    Unavailable,
    Violation,
)
from icc_rpc.errors import FieldViolation, to_rpc_error


def test_each_domain_error_has_its_status() -> None:
    bad = to_rpc_error(InvalidInput([Violation("a.b", "required")]))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.violations == [FieldViolation("a.b", "required")]
    cases = [
        (NotFound("units/U1"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
        (StaleEtag("units/U1", "1", "2"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
        (ConcurrentChange("again"), grpc.StatusCode.ABORTED, "CONCURRENT_CHANGE"),
        (IllegalTransition("no"), grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_TRANSITION"),
    ]
    for exc, code, reason in cases:
        err = to_rpc_error(exc)
        assert (err.code, err.reason, err.message) == (code, reason, str(exc))
    held = to_rpc_error(Unavailable({"units/b": "is held", "units/a": "is out"}, advice="retry"))
    assert held.reason == "UNITS_UNAVAILABLE"
    assert held.metadata == {"units": "units/a,units/b"}
    assert held.message.endswith("; retry")


def test_anything_else_is_raised_again() -> None:
    with pytest.raises(KeyError):
        to_rpc_error(KeyError("x"))
