"""The configuration every service reads from its environment, the same way."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from icc_bus import BusConfig
from icc_storage import database_url_from_env, relay_enabled_from_env


@dataclass(frozen=True)
class ServiceConfig:
    """A service's address, database, bus and outbox relay; a service with more to
    configure subclasses it (fields with defaults) and passes them to `from_env`."""

    address: str
    database_url: str
    bus: BusConfig
    relay_enabled: bool

    @classmethod
    def from_env(
        cls,
        service: str,
        default_address: str,
        env: Mapping[str, str] = os.environ,
        **more: Any,
    ) -> Self:
        """`ICC_<SERVICE>_ADDR` (else `default_address`), `ICC_<SERVICE>_DB_URL`,
        `ICC_NATS_*`, `ICC_OUTBOX_RELAY`; `more`: a subclass's own fields."""
        return cls(
            address=env.get(f"ICC_{service.upper()}_ADDR", default_address),
            database_url=database_url_from_env(service, env),
            bus=BusConfig.from_env(env),
            relay_enabled=relay_enabled_from_env(env),
            **more,
        )
