"""Which metric names the services export, and which ones a PromQL expression reads: what
the alert and dashboard tests compare.

The exported names come from the instruments the code declares (`create_counter(...)` and
the like in libs/ and services/), named the way OpenTelemetry's Prometheus exporter names
them; tests/test_alerts.py checks that rule against what a real Prometheus scraped.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The exporter's suffix for a unit; annotations in braces ({message}) add none.
_UNIT_SUFFIX = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "ratio"}
_COUNTERS = {"counter", "observable_counter"}
_HISTOGRAMS = {"histogram"}
_CREATE = re.compile(
    r"create_(counter|up_down_counter|histogram|gauge|observable_gauge|observable_counter"
    r"|observable_up_down_counter)\("
)

# What every service's registry adds (prometheus_client's process collector) and what
# Prometheus itself makes.
PROCESS = frozenset(
    {
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "target_info",
    }
)
PROMETHEUS_OWN = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"}
    | {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)


def _call_args(text: str, start: int) -> str:
    """The text between the parenthesis at `start - 1` and its match."""
    depth = 1
    i = start
    while depth and i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start : i - 1]


def declared_instruments() -> dict[str, tuple[str, str]]:
    """OpenTelemetry instrument name -> (kind, unit), from the services' and libraries'
    source."""
    found: dict[str, tuple[str, str]] = {}
    sources = [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for call in _CREATE.finditer(text):
            args = _call_args(text, call.end())
            name = re.match(r'\s*"([\w.]+)"', args)
            if name is None:
                continue
            unit = re.search(r'unit="([^"]*)"', args)
            found[name.group(1)] = (call.group(1), unit.group(1) if unit else "")
    return found


def prometheus_names(instrument: str, kind: str, unit: str) -> set[str]:
    base = re.sub(r"[^a-zA-Z0-9_:]", "_", instrument)
    suffix = _UNIT_SUFFIX.get(unit, "")
    if suffix and not base.endswith(suffix):
        base = f"{base}_{suffix}"
    if kind in _COUNTERS:
        return {f"{base}_total"}
    if kind in _HISTOGRAMS:
        return {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return {base}


def exported_metric_names() -> set[str]:
    names: set[str] = set()
    for instrument, (kind, unit) in declared_instruments().items():
        names |= prometheus_names(instrument, kind, unit)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (selectors, not functions or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    grouping = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    text = re.sub(grouping, " ", text)
    names = set()
    for token in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?", text):
        if token.group(2) is None and token.group(1) not in _KEYWORDS:
            names.add(token.group(1))
    return names
