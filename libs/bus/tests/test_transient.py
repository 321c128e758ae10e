"""Transient faults told from the rest, once, in `icc_bus.faults`."""

import grpc
from nats.errors import ConnectionClosedError, NoServersError
from nats.js.errors import ServiceUnavailableError

from icc_bus.faults import is_transient, recognise
from icc_kernel.errors import NotFound, Transient


class _Status(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


class _Outage(Exception):
    """A handler's own passing fault."""


def test_passing_faults_are_told_from_the_rest() -> None:
    assert is_transient(Transient("the dispatch database"))
    assert is_transient(ConnectionRefusedError(111, "refused"))
    assert is_transient(TimeoutError())
    assert is_transient(NoServersError())
    assert is_transient(ConnectionClosedError())
    assert is_transient(ServiceUnavailableError())
    assert is_transient(_Status(grpc.StatusCode.UNAVAILABLE))
    assert is_transient(_Status(grpc.StatusCode.DEADLINE_EXCEEDED))
    assert not is_transient(_Status(grpc.StatusCode.INVALID_ARGUMENT))
    assert not is_transient(NotFound("incidents/x"))
    assert not is_transient(ValueError("bad payload"))
    assert not is_transient(OSError(28, "no space left on device"))
    # Raised from a passing fault: passing; raised while handling one: its own.
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    try:
        try:
            raise ConnectionResetError()
        except ConnectionResetError:
            raise KeyError("a bug in the handler") from None
    except KeyError as bug:
        assert not is_transient(bug)
    assert is_transient(_Outage(), declared=(_Outage,))
    assert not is_transient(_Outage())


def test_a_library_teaches_its_own_faults() -> None:
    class DriverGone(Exception):
        pass

    assert not is_transient(DriverGone())
    recognise(lambda exc: isinstance(exc, DriverGone))
    assert is_transient(DriverGone())
