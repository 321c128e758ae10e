"""`icc simulate`: drive the running system with the living city (icc_simulator) and
report response KPIs. It connects to the addresses `icc run` wrote (or flags)."""

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from icc_simulator.config import SimConfig, parse_duration
from icc_simulator.players.api import Endpoints
from icc_simulator.report.files import write_files
from icc_simulator.report.result import RunResult
from icc_simulator.report.tables import clock_text, print_report
from icc_simulator.run import Simulation
from icc_simulator.world.scenarios import scenarios


def _endpoints(
    endpoints_file: Path | None,
    nats_url: str | None,
    incidents: str | None,
    resources: str | None,
    dispatch: str | None,
) -> Endpoints:
    if endpoints_file is not None:
        if not endpoints_file.exists():
            raise typer.BadParameter(f"{endpoints_file} does not exist", param_hint="--endpoints")
        base = Endpoints.from_file(endpoints_file)
    else:
        base = Endpoints.from_env()
    return Endpoints(
        nats_url=nats_url or base.nats_url,
        incidents=incidents or base.incidents,
        resources=resources or base.resources,
        dispatch=dispatch or base.dispatch,
        otlp=base.otlp,
        tls=base.tls,
        nats_user=base.nats_user,
        nats_password=base.nats_password,
    )


def progress_table(sim: Simulation) -> Table:
    s = sim.stats
    t = Table(title="ICC simulation", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    end = sim.sim_end
    sim_now = sim.sim_now
    t.add_row(
        "scenario",
        f"{sim.scenario.name} · {sim.phase} · simulated {sim.scale.label(sim_now)} "
        f"({clock_text(sim_now)}" + (f" of {clock_text(end)})" if end else ")"),
    )
    t.add_row("calls", f"{s.calls} made, {s.duplicates} of them repeat callers")
    t.add_row(
        "incidents",
        f"{s.open} open · {s.closed} closed · {s.merged} merged · {s.cancelled} cancelled · "
        f"{s.queued} waited for units",
    )
    t.add_row(
        "units",
        f"{s.units_busy} of {s.units_total} busy · {s.assignments} assignments · "
        f"{s.transports} to hospital · {s.positions} positions",
    )
    errors = ", ".join(f"{k} ×{n}" for k, n in s.errors.most_common(4))
    t.add_row("errors", f"[red]{escape(errors)}[/]" if errors else "none")
    return t


async def _run_live(sim: Simulation, console: Console) -> RunResult:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C ends the run at once (no drain): the report of what ran is printed.
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stopping.set)
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
    task = asyncio.create_task(sim.run(stopping))
    with Live(progress_table(sim), console=console, refresh_per_second=4) as live:
        while not task.done():
            await asyncio.wait([task], timeout=0.25)
            live.update(progress_table(sim))
    return task.result()


# Long for its sixteen options: typer declares each command-line option as a parameter.
def simulate(
    scenario: Annotated[
        str, typer.Option(help="normal, flood, mass-casualty or station-closed.")
    ] = "normal",
    rate: Annotated[
        float,
        typer.Option(help="Base call rate, calls per real minute (the scenario scales it)."),
    ] = 20.0,
    duration: Annotated[
        str, typer.Option(help="Real time to place calls: 90s, 10m, 1h; 0 for until Ctrl-C.")
    ] = "10m",
    seed: Annotated[int, typer.Option(help="Same seed, same calls.")] = 1,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (60: a day in 24 min).")
    ] = 60.0,
    start_hour: Annotated[
        int | None, typer.Option(help="Local hour at the start (default: the scenario's).")
    ] = None,
    station: Annotated[
        list[str] | None,
        typer.Option(help="Station to close for station-closed (repeatable), e.g. PCCC-TANDINH."),
    ] = None,
    steady: Annotated[
        bool, typer.Option(help="The scenario's mix at a constant rate (for load tests).")
    ] = False,
    drain: Annotated[
        str | None,
        typer.Option(help="Real time to let open incidents finish after the last call."),
    ] = None,
    max_calls: Annotated[int | None, typer.Option(help="Stop after this many calls.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Directory for events.jsonl, kpis.json, kpis.png ($ICC_VAR_DIR/sim)."),
    ] = None,
    endpoints: Annotated[
        Path | None,
        typer.Option(help="The endpoints file `icc run` writes ($ICC_VAR_DIR/endpoints.json)."),
    ] = None,
    nats_url: Annotated[str | None, typer.Option(help="NATS URL (overrides the file).")] = None,
    incidents: Annotated[str | None, typer.Option(help="incidents host:port.")] = None,
    resources: Annotated[str | None, typer.Option(help="resources host:port.")] = None,
    dispatch: Annotated[str | None, typer.Option(help="dispatch host:port.")] = None,
) -> None:
    """Simulate the city's calls and units against the running system, then report KPIs."""
    console = Console(highlight=False)
    if scenario not in scenarios():
        raise typer.BadParameter(
            f"unknown scenario {scenario!r}; choose one of {', '.join(scenarios())}",
            param_hint="--scenario",
        )
    try:
        config = SimConfig(
            scenario=scenario,
            rate_per_min=rate,
            duration_s=parse_duration(duration),
            seed=seed,
            speed=speed,
            start_hour=start_hour,
            drain_s=parse_duration(drain) if drain else None,
            steady=steady,
            stations=tuple(station or ()),
            max_calls=max_calls,
            out_dir=out or Path(os.environ.get("ICC_VAR_DIR", "var")) / "sim",
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    sim = Simulation(config, _endpoints(endpoints, nats_url, incidents, resources, dispatch))
    try:
        result = asyncio.run(_run_live(sim, console))
    except (RuntimeError, ValueError, KeyError) as exc:
        console.print(f"[red]✗[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    _report(result, config, console)


def _report(result: RunResult, config: SimConfig, console: Console) -> None:
    """The report on the terminal and in files; exit 1 when a unit was double-booked."""
    print_report(result, console)
    if config.out_dir is not None:
        files = write_files(result, config.out_dir)
        console.print(
            "Written: " + ", ".join(escape(str(p)) for p in files.values()) + " (times in JSON: "
            "simulated seconds)."
        )
    if result.double_booked:
        raise typer.Exit(1)
