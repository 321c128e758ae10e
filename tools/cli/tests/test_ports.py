"""The port check of `icc run` fails on a listener, not on connections in TIME_WAIT."""

import socket

import pytest

from icc_cli.readiness import StackError, check_port_free


def _tcp_states(port: int) -> set[str]:
    """The TCP states (hex, as /proc/net/tcp has them) of local sockets on `port`."""
    states = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                states.add(fields[3])
    return states


def test_a_port_closed_by_the_server_side_is_free_again() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side waits out TIME_WAIT
        client.recv(1)
        client.close()
    assert "06" in _tcp_states(port)  # TIME_WAIT: the case the check used to trip on
    check_port_free("127.0.0.1", port, "ICC_TEST_PORT")


def test_a_listener_is_named_with_the_variable_that_moves_it() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .*ICC_TEST_PORT"):
            check_port_free("127.0.0.1", port, "ICC_TEST_PORT")
