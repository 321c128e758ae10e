"""Test support for ICC: real nats-server processes and gRPC servers on free ports, and a
TCP proxy a test cuts as a network cut would."""

from icc_testing.metrics import RecordedMetrics
from icc_testing.nats_server import NatsServer, free_port
from icc_testing.pki import Pki
from icc_testing.process import ServiceProcess, refused_start
from icc_testing.proxy import CuttableProxy

__all__ = [
    "CuttableProxy",
    "NatsServer",
    "Pki",
    "RecordedMetrics",
    "ServiceProcess",
    "free_port",
    "refused_start",
]
