"""An incident's spans as a waterfall, from the trace sink's HTTP query endpoint."""

import math
from typing import Any

import httpx

from icc_gateway.errors import unavailable

_FIELDS = ("trace_id", "service", "operation", "start_ms", "duration_ms", "depth", "error")


def _span(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    span = {name: raw.get(name) for name in _FIELDS}
    for name in ("start_ms", "duration_ms"):
        value = span[name]
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None
    span["depth"] = span["depth"] if isinstance(span["depth"], int) else 0
    span["error"] = bool(span["error"])
    for name in ("trace_id", "service", "operation"):
        span[name] = str(span[name] or "")
    return span


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

    async def waterfall(self, incident_id: str) -> dict[str, Any]:
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
            return {"spans": []}  # no span of that incident (yet)
        if reply.status_code != 200:
            raise unavailable(f"The trace sink answered {reply.status_code}; try again later.")
        try:
            raw = reply.json()
        except ValueError:
            raise unavailable("The trace sink's answer was not JSON.") from None
        spans = raw.get("spans") if isinstance(raw, dict) else None
        if not isinstance(spans, list):
            raise unavailable("The trace sink's answer had no spans.")
        return {"spans": [s for s in map(_span, spans) if s is not None]}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
