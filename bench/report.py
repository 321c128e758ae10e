"""The tables and JSON made of a run's figures (what they mean: `bench.figures`)."""

import math
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.figures import (
    COMPARISON,
    COUNTED,
    FLOOR,
    GOALS,
    PAIRS,
    SECTIONS,
    Row,
    Section,
    Unit,
)
from bench.stats import median


def summarize(runs: Mapping[str, list[float]]) -> dict[str, float]:
    """Medians over repetitions; counts of lost events are summed instead."""
    return {
        key: (float(sum(values)) if key.endswith(COUNTED) else median(values))
        for key, values in runs.items()
    }


def fmt(value: float, unit: Unit) -> str:
    if math.isnan(value):
        return "—"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"
    if unit == "n":
        return f"{value:.0f}"
    if unit in ("MB", "cores"):
        return f"{value:.2f} {unit}"
    return f"{value:,.0f} {unit}"


def spread(values: list[float], unit: Unit) -> str:
    present = [v for v in values if not math.isnan(v)]
    if len(present) < 2 or unit == "n":
        return ""
    return f"{fmt(min(present), unit)} – {fmt(max(present), unit)}"


def ratio(service: float, bare: float) -> float:
    if math.isnan(service) or math.isnan(bare) or bare == 0:
        return math.nan
    return service / bare


def _table(title: str, caption: str, first: str, right: list[str], dim: list[str]) -> Table:
    """A table whose first column is text and the others figures (`dim`: the spreads)."""
    table = Table(title=title, caption=caption)
    table.add_column(first)
    for name in right:
        table.add_column(name, justify="right")
    for name in dim:
        table.add_column(name, justify="right", style="dim")
    return table


def floor_table(medians: Mapping[str, float], runs: Mapping[str, list[float]]) -> Table:
    table = _table(
        "A. Bare-stack floor on this machine (median of repetitions)",
        "bare pipeline: one SQLite connection (writers queue in asyncio), uvloop",
        "figure",
        ["measured"],
        ["min – max", "BASELINE.md"],
    )
    for f in FLOOR:
        value = medians.get(f.key, math.nan)
        table.add_row(f.label, fmt(value, f.unit), spread(runs.get(f.key, []), f.unit), f.reference)
    return table


def beside_table(
    section: Section, medians: Mapping[str, float], runs: Mapping[str, list[float]]
) -> Table:
    table = _table(
        section.title,
        section.caption,
        "figure",
        ["service", section.bare_column, "service / bare"],
        ["service min – max"],
    )
    for row in section.rows:
        service = medians.get(row.service, math.nan)
        bare = medians.get(row.bare, math.nan) if row.bare else math.nan
        r = ratio(service, bare)
        table.add_row(
            row.label,
            fmt(service, row.unit),
            fmt(bare, row.unit) if row.bare else "",
            "" if row.unit == "n" or math.isnan(r) else f"{r:.2f}×",
            spread(runs.get(row.service, []), row.unit),
        )
    return table


def _unit_of(key: str) -> Unit:
    if key.endswith("_ms"):
        return "ms"
    if key.endswith("_mb"):
        return "MB"
    return "n" if key.endswith(COUNTED) else "/s"


def goals_table(medians: Mapping[str, float]) -> Table:
    table = Table(title="D. Goals")
    table.add_column("goal")
    table.add_column("target", justify="right")
    table.add_column("service", justify="right")
    table.add_column("result", justify="center")
    for g in GOALS:
        unit = _unit_of(g.service)
        sign = "≥" if g.higher_is_better else "≤"
        met = g.met(medians)
        table.add_row(
            g.label,
            f"{sign} {fmt(g.target(medians), unit)}",
            fmt(medians.get(g.service, math.nan), unit),
            "[bold green]PASS[/]" if met else "[bold red]MISS[/]",
        )
    return table


def print_report(
    console: Console, medians: Mapping[str, float], runs: Mapping[str, list[float]]
) -> None:
    console.print(floor_table(medians, runs))
    console.print(beside_table(COMPARISON, medians, runs))
    for section in SECTIONS:
        console.print(beside_table(section, medians, runs))
    console.print(goals_table(medians))


def as_json(medians: Mapping[str, float], runs: Mapping[str, list[float]]) -> dict[str, Any]:
    """The results in plain JSON types (NaN becomes null)."""

    def clean(value: float) -> float | None:
        return None if math.isnan(value) else value

    def beside(row: Row) -> dict[str, Any]:
        service = medians.get(row.service, math.nan)
        bare = medians.get(row.bare, math.nan) if row.bare else math.nan
        return {
            "figure": row.label,
            "key": row.service,
            "service": clean(service),
            "bare": clean(bare),
            "ratio": clean(ratio(service, bare)),
        }

    return {
        "medians": {k: clean(v) for k, v in sorted(medians.items())},
        "runs": {k: [clean(v) for v in vs] for k, vs in sorted(runs.items())},
        "comparison": [
            {
                "figure": p.label,
                "key": p.name,
                "service": clean(medians.get(p.service, math.nan)),
                "bare": clean(medians.get(p.bare, math.nan)),
                "ratio": clean(
                    ratio(medians.get(p.service, math.nan), medians.get(p.bare, math.nan))
                ),
            }
            for p in PAIRS
        ],
        **{section.key: [beside(row) for row in section.rows] for section in SECTIONS},
        "goals": [
            {
                "goal": g.label,
                "service": clean(medians.get(g.service, math.nan)),
                "target": clean(g.target(medians)),
                "result": "PASS" if g.met(medians) else "MISS",
            }
            for g in GOALS
        ],
    }
