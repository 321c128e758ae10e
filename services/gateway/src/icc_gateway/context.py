"""What the HTTP handlers work with, made once at start-up (main.py)."""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from icc_city.geojson import city_map
from icc_gateway.accounts import Accounts
from icc_gateway.catalog import TypeCatalog
from icc_gateway.clients import Services
from icc_gateway.config import Config
from icc_gateway.domain.picture import Picture
from icc_gateway.feed import PictureFeed
from icc_gateway.public_warnings import PublicWarnings
from icc_gateway.stream import Hub
from icc_gateway.throttle import LoginThrottle
from icc_gateway.traces import TraceSink


class Cached:
    """A value read through gRPC that rarely changes (the type catalog, the stations),
    kept for `ttl_s` so the screen's start-up does not ask the services each time."""

    def __init__(self, load: Callable[[], Awaitable[Any]], ttl_s: float = 300.0) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._value: Any = None
        self._time = 0.0

    async def get(self) -> Any:
        now = time.monotonic()
        if self._value is None or now - self._time > self._ttl_s:
            self._value = await self._load()
            self._time = now
        return self._value


@dataclass
class Gateway:
    config: Config
    accounts: Accounts
    services: Services
    picture: Picture
    hub: Hub
    feed: PictureFeed
    traces: TraceSink
    throttle: LoginThrottle
    catalog: TypeCatalog
    warnings: PublicWarnings
    map: dict[str, Any] = field(default_factory=city_map)
    caches: dict[str, Cached] = field(default_factory=dict)
