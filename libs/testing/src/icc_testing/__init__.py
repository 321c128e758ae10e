"""Test support for ICC: real nats-server processes and gRPC servers on free ports."""

from icc_testing.metrics import RecordedMetrics
from icc_testing.nats_server import NatsServer, free_port
from icc_testing.process import ServiceProcess

__all__ = ["NatsServer", "RecordedMetrics", "ServiceProcess", "free_port"]
