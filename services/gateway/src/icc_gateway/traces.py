"""An incident's spans as a waterfall, from the trace sink's HTTP query endpoint."""

import math
from typing import Any

import httpx

from icc_gateway.errors import unavailable
from icc_gateway.schemas import Trace, TraceSpan


def _span(raw: Any) -> TraceSpan | None:
    """A span of the sink's answer; None for one without finite times. Other fields are
    taken as they come, each of the right type."""
    if not isinstance(raw, dict):
        return None
    start, duration, depth = raw.get("start_ms"), raw.get("duration_ms"), raw.get("depth")
    if not isinstance(start, int | float) or not isinstance(duration, int | float):
        return None
    if not (math.isfinite(start) and math.isfinite(duration)):
        return None
    return TraceSpan(
        trace_id=str(raw.get("trace_id") or ""),
        service=str(raw.get("service") or ""),
        operation=str(raw.get("operation") or ""),
        start_ms=start,
        duration_ms=duration,
        depth=depth if isinstance(depth, int) else 0,
        error=bool(raw.get("error")),
    )


class TraceSink:
    """`None` base URL: no sink configured, and every query says so (503)."""

    def __init__(
        self,
        base_url: str | None,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/") if base_url else None
        self._client = (
            httpx.AsyncClient(timeout=timeout_s, transport=transport) if self._base else None
        )

    async def waterfall(self, incident_id: str) -> Trace:
        if self._base is None or self._client is None:
            raise unavailable(
                "Traces are not available: no trace sink is configured "
                "(set ICC_TRACESINK_QUERY_URL; `make run` does)."
            )
        try:
            reply = await self._client.get(f"{self._base}/incidents/{incident_id}/waterfall")
        except httpx.HTTPError:
            raise unavailable("The trace sink is not answering; try again in a moment.") from None
        if reply.status_code == 404:
            return Trace(spans=[])  # no span of that incident (yet)
        if reply.status_code != 200:
            raise unavailable(f"The trace sink answered {reply.status_code}; try again later.")
        try:
            raw = reply.json()
        except ValueError:
            raise unavailable("The trace sink's answer was not JSON.") from None
        spans = raw.get("spans") if isinstance(raw, dict) else None
        if not isinstance(spans, list):
            raise unavailable("The trace sink's answer had no spans.")
        return Trace(spans=[s for s in map(_span, spans) if s is not None])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
