"""An incident's timeline, from the trace sink's HTTP query endpoint: its spans as a
waterfall grouped by the steps of the incident's life (intake, dispatch decision,
reservation, acknowledgement, on scene, other work), the screen's own reads left out
unless asked for.

The sink's answer is read field by field and checked: a span or a step without finite
times, or of a step this gateway does not know, is left out or counted as `other`."""

import math
import ssl
from typing import Any, get_args

import httpx

from icc_gateway.errors import unavailable
from icc_gateway.schemas import Trace, TraceSpan, TraceStep, TraceStepSummary
from icc_rpc import TlsConfig

STEPS: frozenset[str] = frozenset(get_args(TraceStep))


def _step(raw: Any) -> TraceStep:
    return raw if isinstance(raw, str) and raw in STEPS else "other"  # type: ignore[return-value]


def _times(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _span(raw: Any) -> TraceSpan | None:
    """A span of the sink's answer; None for one without finite times. Other fields are
    taken as they come, each of the right type."""
    if not isinstance(raw, dict):
        return None
    start, duration, depth = raw.get("start_ms"), raw.get("duration_ms"), raw.get("depth")
    if not _times(start, duration):
        return None
    return TraceSpan(
        trace_id=str(raw.get("trace_id") or ""),
        service=str(raw.get("service") or ""),
        operation=str(raw.get("operation") or ""),
        start_ms=float(start),  # type: ignore[arg-type]  # checked by _times
        duration_ms=float(duration),  # type: ignore[arg-type]
        depth=depth if isinstance(depth, int) else 0,
        error=bool(raw.get("error")),
        step=_step(raw.get("step")),
    )


def _summary(raw: Any) -> TraceStepSummary | None:
    if not isinstance(raw, dict) or not _times(raw.get("start_ms"), raw.get("end_ms")):
        return None
    count = raw.get("spans")
    return TraceStepSummary(
        step=_step(raw.get("step")),
        start_ms=raw["start_ms"],
        end_ms=raw["end_ms"],
        spans=count if isinstance(count, int) else 0,
    )


def timeline(raw: Any) -> Trace:
    """The sink's JSON as the API's Trace; ValueError when it holds no spans."""
    spans = raw.get("spans") if isinstance(raw, dict) else None
    if not isinstance(spans, list):
        raise ValueError("no spans")
    steps = raw.get("steps")
    hidden = raw.get("reads_hidden")
    return Trace(
        spans=[s for s in map(_span, spans) if s is not None],
        steps=[s for s in map(_summary, steps if isinstance(steps, list) else []) if s],
        reads_hidden=hidden if isinstance(hidden, int) and hidden >= 0 else 0,
    )


class TraceSink:
    """`None` base URL: no sink configured, and every query says so (503). The sink
    answers timelines over mutual TLS to the gateway's certificate (`tls`)."""

    def __init__(
        self,
        base_url: str | None,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self._base = base_url.rstrip("/") if base_url else None
        verify: ssl.SSLContext | bool = tls.https_context() if tls and self._base else True
        self._client = (
            httpx.AsyncClient(timeout=timeout_s, transport=transport, verify=verify)
            if self._base
            else None
        )

    async def waterfall(self, incident_id: str, *, reads: bool = False) -> Trace:
        if self._base is None or self._client is None:
            raise unavailable(
                "Traces are not available: no trace sink is configured "
                "(set ICC_TRACESINK_QUERY_URL; `make run` does)."
            )
        url = f"{self._base}/incidents/{incident_id}/waterfall"
        try:
            reply = await self._client.get(url, params={"reads": "1"} if reads else None)
        except httpx.HTTPError:
            raise unavailable("The trace sink is not answering; try again in a moment.") from None
        if reply.status_code == 404:
            return Trace(spans=[], steps=[], reads_hidden=0)  # no span of that incident (yet)
        if reply.status_code in (401, 403):
            raise unavailable(
                "The trace sink does not take this gateway's certificate (it answers the "
                "gateway's and engineers' only); check ICC_TLS_* of both."
            )
        if reply.status_code != 200:
            raise unavailable(f"The trace sink answered {reply.status_code}; try again later.")
        try:
            return timeline(reply.json())
        except ValueError:
            raise unavailable("The trace sink's answer was not a timeline.") from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
