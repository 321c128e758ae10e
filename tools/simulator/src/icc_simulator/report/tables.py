"""The KPI report for the terminal: rich tables of a run's response times, targets,
utilisation, waits and end-of-run findings."""

from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from icc_simulator.report.kpis import Kpis, Spread
from icc_simulator.report.result import RunResult
from icc_simulator.world.timescale import TimeScale

TOP_WARDS = 10
TOP_LIST = 10


def clock_text(sim_s: float | None) -> str:
    """Simulated seconds as m:ss (h:mm:ss past an hour); "–" for none."""
    if sim_s is None:
        return "–"
    s = round(sim_s)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _share(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _spread_table(
    title: str,
    key: str,
    to_dispatch: Mapping[str, Spread],
    to_scene: Mapping[str, Spread],
    rows: list[str] | None = None,
) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    t.add_column(key)
    t.add_column("n", justify="right")
    for step in ("dispatch", "on scene"):
        for p in ("p50", "p90", "p99"):
            t.add_column(f"{step} {p}", justify="right")
    t.add_column("no unit", justify="right")
    for name in rows if rows is not None else sorted(to_dispatch):
        d = to_dispatch.get(name, Spread(0, None, None, None))
        s = to_scene.get(name, Spread(0, None, None, None))
        if d.n == 0 and d.never == 0:
            continue
        t.add_row(
            name,
            str(d.n + d.never),
            clock_text(d.p50),
            clock_text(d.p90),
            clock_text(d.p99),
            clock_text(s.p50),
            clock_text(s.p90),
            clock_text(s.p99),
            str(s.never) if s.never else "",
        )
    return t


def tables(result: RunResult) -> Group:
    k = result.kpis
    parts: list[Any] = [Panel(_headline(result), title="ICC simulation", expand=False)]
    parts.extend(_response_tables(k))
    parts.append(_targets_table(k))
    parts.append(_utilisation_table(k))
    if k.waited:
        parts.append(_waited_table(k))
    if result.open_incidents:
        parts.append(_open_table(result))
    parts.append(_checks(result))
    return Group(*parts)


def _headline(result: RunResult) -> str:
    k = result.kpis
    info = result.log.info
    scale = TimeScale(info.speed, info.start_hour)
    st = result.stats
    ended = ", ".join(f"{n} {how}" for how, n in k.ended.items()) or "none"
    return (
        f"[bold]{result.scenario.name}[/] · seed {info.seed} · speed {info.speed:g}× · "
        f"rate {info.rate_per_min:g}/min · simulated {scale.label(0)} → "
        f"{scale.label(k.duration_s)} ({clock_text(k.duration_s)})\n"
        f"{st.calls} calls → {k.incidents} incidents + {k.duplicates} duplicate calls · "
        f"{st.attached} repeat callers attached · "
        f"ended: {ended} · still open: {k.still_open} · "
        f"units {st.units_total}, utilisation {_share(k.utilisation.overall)}, "
        f"peak {k.utilisation.peak_busy} busy\n"
        f"duplicate check: precision {_share(st.duplicate_precision)}, "
        f"recall {_share(st.duplicate_recall)} ({st.duplicate_hits} hits, "
        f"{st.duplicate_false_alarms} false alarms, {st.duplicate_misses} misses) · "
        f"places searched {st.places_searched}, not found {st.places_not_found}\n"
        "[dim]Times are simulated (m:ss): real seconds recorded by the services × speed; "
        "the system's own latency is scaled by the speed too.[/]"
    )


def _response_tables(k: Kpis) -> list[Table]:
    wards = sorted(
        k.to_dispatch["ward"],
        key=lambda w: -(k.to_dispatch["ward"][w].n + k.to_dispatch["ward"][w].never),
    )[:TOP_WARDS]
    return [
        _spread_table(
            "Call → first unit assigned / on scene, by agency",
            "agency",
            k.to_dispatch["agency"],
            k.to_on_scene["agency"],
        ),
        _spread_table(
            "… by priority",
            "priority",
            k.to_dispatch["priority"],
            k.to_on_scene["priority"],
            rows=["P1", "P2", "P3", "P4"],
        ),
        _spread_table(
            "… by the line the call came in on",
            "line",
            k.to_dispatch["line"],
            k.to_on_scene["line"],
        ),
        _spread_table(
            f"… by ward (the {len(wards)} busiest)",
            "ward",
            k.to_dispatch["ward"],
            k.to_on_scene["ward"],
            rows=wards,
        ),
    ]


def _targets_table(k: Kpis) -> Table:
    targets = Table(
        title="P1: first unit of the agency on scene within target", title_justify="left"
    )
    for c in ("agency", "target", "reached", "missed", "too early to tell", "share"):
        targets.add_column(c, justify="left" if c == "agency" else "right")
    for agency, tgt in k.p1_targets.items():
        targets.add_row(
            agency,
            clock_text(tgt.target_s),
            str(tgt.reached),
            str(tgt.missed),
            str(tgt.censored),
            _share(tgt.share),
        )
    return targets


def _utilisation_table(k: Kpis) -> Table:
    util = Table(title="Unit utilisation (busy share of in-service time)", title_justify="left")
    util.add_column("agency")
    util.add_column("busy", justify="right")
    for agency, share in k.utilisation.by_agency.items():
        util.add_row(agency, _share(share))
    util.add_row("[bold]all[/]", f"[bold]{_share(k.utilisation.overall)}[/]")
    return util


def _waited_table(k: Kpis) -> Table:
    w = Table(
        title=f"Waited for units: {len(k.waited)} incidents (first {TOP_LIST})",
        title_justify="left",
    )
    for c in ("incident", "type", "prio", "ward", "first unit", "why"):
        w.add_column(c)
    for item in k.waited[:TOP_LIST]:
        w.add_row(
            item.incident.removeprefix("incidents/"),
            item.type_code,
            item.priority.name,
            item.ward,
            clock_text(item.waited_s),
            item.why[:70],
        )
    return w


def _open_table(result: RunResult) -> Table:
    o = Table(
        title=f"Still open at the end: {len(result.open_incidents)} (first {TOP_LIST})",
        title_justify="left",
    )
    for c in ("incident", "type", "prio", "why"):
        o.add_column(c)
    for inc in result.open_incidents[:TOP_LIST]:
        name = inc.incident.removeprefix("incidents/")
        o.add_row(name, inc.type_code, inc.priority, inc.why[:80])
    return o


def _checks(result: RunResult) -> str:
    st = result.stats
    checks = (
        "[green]no unit held by two incidents[/]"
        if not result.double_booked
        else ("[red]units held by two incidents:[/] " + "; ".join(result.double_booked[:5]))
    )
    errors = ", ".join(f"{what} ×{n}" for what, n in st.errors.most_common(8)) or "none"
    return (
        f"{checks} · player conflicts: {st.conflicts} · errors: {errors}"
        + (
            f"\nstations closed: {len(result.stations_closed)} units"
            if result.stations_closed
            else ""
        )
        + "".join(f"\nnote: {n}" for n in result.kpis.notes)
    )


def print_report(result: RunResult, console: Console) -> None:
    console.print(tables(result))
