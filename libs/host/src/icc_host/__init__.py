"""What every ICC service process does alike at start and stop.

- `ServiceConfig`: where it listens, its database, the bus, whether its outbox relay runs,
  read from `ICC_<SERVICE>_ADDR`, `ICC_<SERVICE>_DB_URL`, `ICC_NATS_*`, `ICC_OUTBOX_RELAY`;
- `open_database`, `open_bus`, `start_writer`, `serve_grpc`: each part opened and pushed on
  the start-up's exit stack, so a failed start closes what it opened, in reverse;
- `watch_health`: gRPC health NOT_SERVING while the database or the bus is out of reach,
  or a consumer's work is stuck (`icc_host.health`);
- `Hosted`: a started service, stopped in order (the server first, then the rest).
"""

from icc_host.config import ServiceConfig
from icc_host.parts import (
    Hosted,
    open_bus,
    open_database,
    serve_grpc,
    start_writer,
    watch_health,
)

__all__ = [
    "Hosted",
    "ServiceConfig",
    "open_bus",
    "open_database",
    "serve_grpc",
    "start_writer",
    "watch_health",
]
