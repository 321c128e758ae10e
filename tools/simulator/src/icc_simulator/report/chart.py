"""The KPI chart: one image of four panels (matplotlib, Agg: files only)."""

from pathlib import Path
from typing import TYPE_CHECKING

from icc_simulator.report import kpis
from icc_simulator.report.result import RunResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def write_chart(result: RunResult, path: Path) -> None:
    """Four panels: on-scene time distribution by agency against the P1 targets; p50/p90
    by priority; units busy over the run; calls per simulated hour by family."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, thread-safe enough for a CLI
    import matplotlib.pyplot as plt

    info = result.log.info
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    fig.suptitle(
        f"ICC simulation: {result.scenario.name}, seed {info.seed}, speed {info.speed:g}× "
        f"(times simulated: real × speed)"
    )
    _on_scene_by_agency(axes[0][0], result)
    _on_scene_by_priority(axes[0][1], result)
    _units_busy(axes[1][0], result)
    _calls_by_family(axes[1][1], result)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _on_scene_by_agency(ax: "Axes", result: RunResult) -> None:
    samples = kpis.on_scene_samples(result.log)
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


def _on_scene_by_priority(ax: "Axes", result: RunResult) -> None:
    prios = ["P1", "P2", "P3", "P4"]
    spreads = result.kpis.to_on_scene["priority"]
    p50 = [(spreads[p].p50 or 0) / 60 if p in spreads else 0 for p in prios]
    p90 = [(spreads[p].p90 or 0) / 60 if p in spreads else 0 for p in prios]
    slots = list(range(len(prios)))
    ax.bar([x - 0.2 for x in slots], p50, width=0.4, label="p50")
    ax.bar([x + 0.2 for x in slots], p90, width=0.4, label="p90")
    ax.set_xticks(slots, prios)
    ax.set_title("Call → first unit on scene, by priority")
    ax.set_ylabel("minutes")
    ax.legend(fontsize=8)


def _units_busy(ax: "Axes", result: RunResult) -> None:
    info = result.log.info
    t_end = info.t_end or info.t_start
    series = kpis.busy_series(result.log, info.t_start, t_end)
    ax.plot([(t - info.t_start) * info.speed / 3600 for t, _ in series], [b for _, b in series])
    ax.set_title(f"Units busy (of {result.stats.units_total})")
    ax.set_xlabel("simulated hours since the start")


def _calls_by_family(ax: "Axes", result: RunResult) -> None:
    info = result.log.info
    # Ten-minute bins for a short run, hours for a long one.
    bin_s = 600.0 if result.kpis.duration_s <= 6 * 3600 else 3600.0
    by_bin = kpis.calls_by_interval(result.log, bin_s)
    bottom = [0] * max((len(v) for v in by_bin.values()), default=0)
    for family, counts in sorted(by_bin.items()):
        starts = [i * bin_s / 3600 for i in range(len(counts))]
        ax.bar(starts, counts, width=bin_s / 3600 * 0.9, align="edge", bottom=bottom, label=family)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_title(f"Calls per {int(bin_s // 60)} simulated minutes, by family")
    ax.set_xlabel(f"simulated hours since the start ({info.start_hour:02d}:00)")
    ax.legend(fontsize=8)
