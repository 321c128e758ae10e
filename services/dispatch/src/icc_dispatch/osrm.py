"""Travel times from a routing engine's table API (OSRM `/table/v1`), over httpx.

One request per recommendation: the candidate units are the sources, the
incident the one destination (more than `max_sources` units, as a dispatcher's list of
every available unit: several requests side by side, since OSRM refuses tables larger
than its `--max-table-size`, 100 by default). OSRM answers `durations` in seconds and, when
asked, `distances` in metres; `null` marks a pair with no route.
"""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from icc_dispatch.domain.eta import Eta, Trip
from icc_dispatch.domain.model import Point
from icc_kernel.vocabulary import EtaSource


class RoutingError(Exception):
    """The routing engine could not answer; dispatch falls back to the travel model."""


class OsrmEtaProvider:
    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        timeout_s: float = 1.5,
        client: httpx.AsyncClient | None = None,
        max_sources: int = 99,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._profile = profile
        self._max_sources = max_sources
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    @property
    def source(self) -> EtaSource:
        return EtaSource.ROUTING_ENGINE

    async def close(self) -> None:
        await self._client.aclose()

    def request_url(self, trips: Sequence[Trip], destination: Point) -> str:
        points = [t.origin for t in trips] + [destination]
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        sources = ";".join(str(i) for i in range(len(trips)))
        return (
            f"{self._base}/table/v1/{self._profile}/{coords}"
            f"?sources={sources}&destinations={len(trips)}&annotations=duration,distance"
        )

    async def etas(
        self, trips: Sequence[Trip], destination: Point, at: datetime
    ) -> list[Eta | None]:
        if not trips:
            return []
        if len(trips) > self._max_sources:
            step = self._max_sources
            parts = await asyncio.gather(
                *(
                    self.etas(trips[i : i + step], destination, at)
                    for i in range(0, len(trips), step)
                )
            )
            return [eta for part in parts for eta in part]
        try:
            reply = await self._client.get(self.request_url(trips, destination))
        except httpx.HTTPError as exc:
            raise RoutingError(f"routing engine unreachable: {type(exc).__name__}") from exc
        if reply.status_code != 200:
            raise RoutingError(f"routing engine answered HTTP {reply.status_code}")
        return parse_table(reply.json(), len(trips))


def parse_table(body: Any, sources: int) -> list[Eta | None]:
    """One ETA per source to the single destination; None where OSRM found no route."""
    if not isinstance(body, dict) or body.get("code") != "Ok":
        code = body.get("code") if isinstance(body, dict) else None
        raise RoutingError(f"routing engine refused the request: {code}")
    durations = body.get("durations")
    distances = body.get("distances") or [[None]] * sources
    if not isinstance(durations, list) or len(durations) != sources:
        raise RoutingError("routing engine answered a table of the wrong size")
    out: list[Eta | None] = []
    for row, dist_row in zip(durations, distances, strict=True):
        seconds = row[0] if row else None
        meters = dist_row[0] if dist_row else None
        if seconds is None:
            out.append(None)
            continue
        out.append(Eta(round(float(seconds)), round(float(meters)) if meters is not None else 0))
    return out
