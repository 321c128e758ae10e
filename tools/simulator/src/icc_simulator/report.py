"""The KPI report: rich tables for the terminal, a chart image (matplotlib, Agg), JSON."""

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from icc_simulator import kpis
from icc_simulator.clock import TimeScale
from icc_simulator.kpis import Spread

if TYPE_CHECKING:
    from icc_simulator.run import RunResult

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


def tables(result: "RunResult") -> Group:
    k = result.kpis
    info = result.log.info
    scale = TimeScale(info.speed, info.start_hour)
    st = result.stats
    ended = ", ".join(f"{n} {how}" for how, n in k.ended.items()) or "none"
    head = (
        f"[bold]{result.scenario.name}[/] · seed {info.seed} · speed {info.speed:g}× · "
        f"rate {info.rate_per_min:g}/min · simulated {scale.label(0)} → "
        f"{scale.label(k.duration_s)} ({clock_text(k.duration_s)})\n"
        f"{st.calls} calls → {k.incidents} incidents + {k.duplicates} duplicate calls · "
        f"ended: {ended} · still open: {k.still_open} · "
        f"units {st.units_total}, utilisation {_share(k.utilisation.overall)}, "
        f"peak {k.utilisation.peak_busy} busy\n"
        "[dim]Times are simulated (m:ss): real seconds recorded by the services × speed; "
        "the system's own latency is scaled by the speed too.[/]"
    )
    parts: list[Any] = [Panel(head, title="ICC simulation", expand=False)]
    parts.append(
        _spread_table(
            "Call → first unit assigned / on scene, by agency",
            "agency",
            k.to_dispatch["agency"],
            k.to_on_scene["agency"],
        )
    )
    parts.append(
        _spread_table(
            "… by priority",
            "priority",
            k.to_dispatch["priority"],
            k.to_on_scene["priority"],
            rows=["P1", "P2", "P3", "P4"],
        )
    )
    wards = sorted(
        k.to_dispatch["ward"],
        key=lambda w: -(k.to_dispatch["ward"][w].n + k.to_dispatch["ward"][w].never),
    )[:TOP_WARDS]
    parts.append(
        _spread_table(
            f"… by ward (the {len(wards)} busiest)",
            "ward",
            k.to_dispatch["ward"],
            k.to_on_scene["ward"],
            rows=wards,
        )
    )
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
    parts.append(targets)
    util = Table(title="Unit utilisation (busy share of in-service time)", title_justify="left")
    util.add_column("agency")
    util.add_column("busy", justify="right")
    for agency, share in k.utilisation.by_agency.items():
        util.add_row(agency, _share(share))
    util.add_row("[bold]all[/]", f"[bold]{_share(k.utilisation.overall)}[/]")
    parts.append(util)
    if k.waited:
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
        parts.append(w)
    if result.open_incidents:
        o = Table(
            title=f"Still open at the end: {len(result.open_incidents)} (first {TOP_LIST})",
            title_justify="left",
        )
        for c in ("incident", "type", "prio", "why"):
            o.add_column(c)
        for inc in result.open_incidents[:TOP_LIST]:
            o.add_row(
                inc.incident.removeprefix("incidents/"), inc.type_code, inc.priority, inc.why[:80]
            )
        parts.append(o)
    checks = (
        "[green]no unit held by two incidents[/]"
        if not result.double_booked
        else ("[red]units held by two incidents:[/] " + "; ".join(result.double_booked[:5]))
    )
    errors = ", ".join(f"{what} ×{n}" for what, n in st.errors.most_common(8)) or "none"
    parts.append(
        f"{checks} · player conflicts: {st.conflicts} · errors: {errors}"
        + (
            f"\nstations closed: {len(result.stations_closed)} units"
            if result.stations_closed
            else ""
        )
        + "".join(f"\nnote: {n}" for n in k.notes)
    )
    return Group(*parts)


def print_report(result: "RunResult", console: Console) -> None:
    console.print(tables(result))


def write_json(result: "RunResult", path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "run": asdict(result.log.info),
        "scenario": result.scenario.name,
        "kpis": result.kpis.to_json(),
        "stats": {
            **{k: v for k, v in asdict(result.stats).items() if k != "errors"},
            "errors": dict(result.stats.errors),
        },
        "open_incidents": [asdict(o) for o in result.open_incidents],
        "double_booked": result.double_booked,
        "stations_closed": result.stations_closed,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_chart(result: "RunResult", path: Path) -> None:
    """Four panels: on-scene time distribution by agency against the P1 targets; p50/p90
    by priority; units busy over the run; calls per simulated hour by family."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, thread-safe enough for a CLI
    import matplotlib.pyplot as plt

    log = result.log
    info = log.info
    k = result.kpis
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    fig.suptitle(
        f"ICC simulation: {result.scenario.name}, seed {info.seed}, speed {info.speed:g}× "
        f"(times simulated: real × speed)"
    )

    ax = axes[0][0]
    samples = kpis.on_scene_samples(log)
    for agency, values in sorted(samples.items()):
        xs = sorted(v / 60 for v in values)
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        ax.step(xs, ys, where="post", label=f"{agency} (n={len(xs)})")
    for target in sorted(set(kpis.P1_TARGET_S.values())):
        who = "/".join(a.name.lower() for a, t in kpis.P1_TARGET_S.items() if t == target)
        ax.axvline(target / 60, linestyle=":", linewidth=1, color="grey")
        ax.text(target / 60, 0.5, f" P1 target {who}", rotation=90, fontsize=7, color="grey")
    ax.set_title("Call → first unit of the agency on scene")
    ax.set_xlabel("minutes")
    ax.set_ylabel("share of incidents")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    prios = ["P1", "P2", "P3", "P4"]
    spreads = k.to_on_scene["priority"]
    p50 = [(spreads[p].p50 or 0) / 60 if p in spreads else 0 for p in prios]
    p90 = [(spreads[p].p90 or 0) / 60 if p in spreads else 0 for p in prios]
    slots = list(range(len(prios)))
    ax.bar([x - 0.2 for x in slots], p50, width=0.4, label="p50")
    ax.bar([x + 0.2 for x in slots], p90, width=0.4, label="p90")
    ax.set_xticks(slots, prios)
    ax.set_title("Call → first unit on scene, by priority")
    ax.set_ylabel("minutes")
    ax.legend(fontsize=8)

    ax = axes[1][0]
    t_end = info.t_end or info.t_start
    series = kpis.busy_series(log, info.t_start, t_end)
    ax.plot([(t - info.t_start) * info.speed / 3600 for t, _ in series], [b for _, b in series])
    ax.set_title(f"Units busy (of {result.stats.units_total})")
    ax.set_xlabel("simulated hours since the start")

    ax = axes[1][1]
    # Ten-minute bins for a short run, hours for a long one.
    bin_s = 600.0 if k.duration_s <= 6 * 3600 else 3600.0
    by_bin = kpis.calls_by_interval(log, bin_s)
    bottom = [0] * max((len(v) for v in by_bin.values()), default=0)
    for family, counts in sorted(by_bin.items()):
        starts = [i * bin_s / 3600 for i in range(len(counts))]
        ax.bar(starts, counts, width=bin_s / 3600 * 0.9, align="edge", bottom=bottom, label=family)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_title(f"Calls per {int(bin_s // 60)} simulated minutes, by family")
    ax.set_xlabel(f"simulated hours since the start ({info.start_hour:02d}:00)")
    ax.legend(fontsize=8)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_files(result: "RunResult", out_dir: Path) -> dict[str, Path]:
    files = {
        "events": out_dir / "events.jsonl",
        "kpis": out_dir / "kpis.json",
        "chart": out_dir / "kpis.png",
    }
    result.log.write_jsonl(files["events"])
    write_json(result, files["kpis"])
    write_chart(result, files["chart"])
    result.files.update(files)
    return files
