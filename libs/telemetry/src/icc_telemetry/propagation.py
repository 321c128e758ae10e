"""W3C trace context in NATS headers (a plain dict, so the default getter/setter fit)."""

from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate
from opentelemetry.context import Context


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write `traceparent`/`tracestate` for the current (or given) context into headers."""
    propagate.inject(headers, context=context)


def extract(headers: Mapping[str, str] | None) -> Context:
    """The context carried by message headers (an empty context when none)."""
    return propagate.extract(dict(headers or {}))
