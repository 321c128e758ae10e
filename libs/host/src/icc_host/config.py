"""The configuration every service reads from its environment, the same way."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from icc_bus import BusConfig
from icc_rpc import TlsConfig
from icc_storage import database_url_from_env, relay_enabled_from_env


@dataclass(frozen=True)
class ServiceConfig:
    """A service's address, database, bus, outbox relay and TLS files; a service with more
    to configure subclasses it (fields with defaults) and passes them to `from_env`."""

    address: str
    database_url: str
    bus: BusConfig
    relay_enabled: bool
    # Its certificate, key and CA (`icc_rpc.tls`); always given: None (plaintext, no
    # authorization) is the benchmark's comparison only.
    tls: TlsConfig | None = field(kw_only=True)

    @classmethod
    def from_env(
        cls,
        service: str,
        default_address: str,
        env: Mapping[str, str] = os.environ,
        **more: Any,
    ) -> Self:
        """`ICC_<SERVICE>_ADDR` (else `default_address`), `ICC_<SERVICE>_DB_URL`,
        `ICC_NATS_*`, `ICC_OUTBOX_RELAY`, `ICC_TLS_*`; `more`: a subclass's own fields."""
        return cls(
            address=env.get(f"ICC_{service.upper()}_ADDR", default_address),
            database_url=database_url_from_env(service, env),
            bus=BusConfig.from_env(env),
            relay_enabled=relay_enabled_from_env(env),
            tls=TlsConfig.from_env(service, env),
            **more,
        )
