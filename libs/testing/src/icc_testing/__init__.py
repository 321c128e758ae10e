"""Test support for ICC: real nats-server processes and gRPC servers on free ports."""

from icc_testing.nats_server import NatsServer, free_port

__all__ = ["NatsServer", "free_port"]
