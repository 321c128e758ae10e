"""Sustained load: the whole system as real processes under the simulator's flood scenario.

incidents, resources and dispatch (`python -m icc_<name>.main`) on one nats-server, and
the simulator (`python -m icc_simulator.main`) placing the flood scenario's calls at a
steady 50 calls/s for 5 minutes, second callers included (the storm's mix at a constant
rate: the simulator's steady mode),
its crews playing every unit they are given. The fleet (572 units) cannot answer 50
incidents a second, so most incidents queue: that is the point, dispatch must hold
thousands of waiting incidents without losing one or booking a unit twice.

Reported:
- incidents lost: created, but unknown to dispatch, or known with neither a unit nor a
  place in the queue (calls the incidents service refused are counted beside);
- units double-booked at the end (ListUnits and GetDispatchStatus of every incident);
- resident memory (VmRSS from /proc/PID/status) of every process every few seconds:
  the first minute against the last minute of the load.

    uv run python -m bench.sustained [--rate 50] [--duration 300] [--speed 60]

`sustained(procs, settings)` is the harness shape of `bench/suite.py` (5 minutes; the
quick settings run one minute).
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from bench.procs import REPO_ROOT, Child, Processes, scratch_processes
from bench.settings import Settings
from bench.stats import nearest_rank
from bench.system import System
from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_kernel.vocabulary import Priority
from icc_simulator.world.calls import CallGenerator
from icc_simulator.world.eventlog import EventLog, IncidentCreated, IncidentQueued, UnitAssigned
from icc_simulator.world.model import Catalog
from icc_simulator.world.scenarios import scenario

SAMPLE_EVERY_S = 5.0
ACTIVE = (
    common_pb2.ASSIGNMENT_STATE_PROPOSED,
    common_pb2.ASSIGNMENT_STATE_ASSIGNED,
    common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED,
)
WAITING = (dispatch_pb2.DISPATCH_STATE_QUEUED, dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER)
SEED = 7
CATALOG = REPO_ROOT / "services/incidents/src/icc_incidents/data/incident_types.json"
# After the load: how long dispatch may take to hear of the last incidents.
CATCH_UP_S = 60.0


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in KiB, None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


@dataclass
class MemorySampler:
    """RSS of named processes every few seconds, with the time of each sample."""

    pids: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            now = time.monotonic()
            for name, pid in list(self.pids.items()):
                kb = rss_kb(pid)
                if kb is not None:
                    self.samples[name].append((now, kb))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), SAMPLE_EVERY_S)

    def window_mb(self, name: str, start: float, end: float) -> float:
        values = [kb for t, kb in self.samples.get(name, []) if start <= t <= end]
        return statistics.mean(values) / 1024 if values else float("nan")


@dataclass
class Census:
    """What became of every incident the run created, by dispatch's own word."""

    incidents: int = 0
    served: int = 0
    waiting: int = 0
    duplicates_ended: int = 0
    lost: list[str] = field(default_factory=list)
    double_booked: list[str] = field(default_factory=list)
    states: Counter[str] = field(default_factory=Counter)


async def list_incidents(
    stub: "incident_grpc.IncidentServiceAsyncStub",
) -> list[incident_pb2.Incident]:
    out: list[incident_pb2.Incident] = []
    token = ""
    while True:
        reply = await stub.ListIncidents(
            ipb.ListIncidentsRequest(page_size=500, page_token=token), timeout=30
        )
        out.extend(reply.incidents)
        token = reply.next_page_token
        if not token:
            return out


async def dispatch_statuses(
    stub: "dispatch_grpc.DispatchServiceAsyncStub", names: list[str]
) -> dict[str, dispatch_pb2.DispatchStatus | None]:
    """GetDispatchStatus of each incident (None: dispatch does not know it)."""
    slots = asyncio.Semaphore(32)
    out: dict[str, dispatch_pb2.DispatchStatus | None] = {}

    async def one(name: str) -> None:
        async with slots:
            try:
                reply = await stub.GetDispatchStatus(
                    dpb.GetDispatchStatusRequest(incident=name), timeout=30
                )
                out[name] = reply.status
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                out[name] = None

    await asyncio.gather(*(one(n) for n in names))
    return out


async def census(
    incidents: "incident_grpc.IncidentServiceAsyncStub",
    dispatch: "dispatch_grpc.DispatchServiceAsyncStub",
    resources: "resource_grpc.ResourceServiceAsyncStub",
) -> Census:
    found = await list_incidents(incidents)
    by_name = {i.name: i for i in found}
    statuses = await dispatch_statuses(dispatch, list(by_name))
    deadline = time.monotonic() + CATCH_UP_S
    while any(s is None for s in statuses.values()) and time.monotonic() < deadline:
        # Dispatch may still be reading the incident stream: ask again for those.
        await asyncio.sleep(5.0)
        unknown = [n for n, s in statuses.items() if s is None]
        statuses.update(await dispatch_statuses(dispatch, unknown))
    c = Census(incidents=len(found))
    held: dict[str, set[str]] = defaultdict(set)
    for name, status in statuses.items():
        inc = by_name[name]
        c.states[incident_pb2.IncidentState.Name(inc.state)] += 1
        if status is None:
            c.lost.append(f"{name}: unknown to dispatch")
            continue
        for a in status.assignments:
            if a.state in ACTIVE:
                held[a.unit].add(name)
        if status.assignments:
            c.served += 1
        elif status.state in WAITING:
            c.waiting += 1
        elif inc.state in (
            incident_pb2.INCIDENT_STATE_MERGED,
            incident_pb2.INCIDENT_STATE_CANCELLED,
        ):
            c.duplicates_ended += 1  # a second caller's incident, merged before any unit
        else:
            state = dispatch_pb2.DispatchState.Name(status.state)
            c.lost.append(f"{name}: {state} at dispatch with no unit and no queue place")
    units = await resources.ListUnits(rpb.ListUnitsRequest(page_size=5000), timeout=30)
    at_resources = {u.name: u.incident for u in units.units if u.incident}
    for unit, names in sorted(held.items()):
        if len(names) > 1:
            c.double_booked.append(f"{unit} held by {', '.join(sorted(names))}")
        there = at_resources.get(unit)
        if there and there not in names:
            c.double_booked.append(f"{unit}: dispatch {sorted(names)}, resources {there}")
    return c


def decision_ms(log: EventLog) -> tuple[list[float], int]:
    """Real milliseconds from each P1/P2 first call's incident to dispatch's first word on
    it (units assigned, or a shortfall announced), and how many P1/P2 first calls there
    were. Under a load the fleet cannot answer, this shows whether dispatch keeps up with
    deciding; call to first unit shows the fleet."""
    first: dict[str, float] = {}
    for r in log.records:
        if isinstance(r, UnitAssigned | IncidentQueued):
            first[r.incident] = min(first.get(r.incident, r.t), r.t)
    urgent = [
        r
        for r in log.records
        if isinstance(r, IncidentCreated)
        and r.priority in (Priority.P1, Priority.P2)
        and not r.duplicate
    ]
    return [(first[r.incident] - r.t) * 1000 for r in urgent if r.incident in first], len(urgent)


def base_rate_for(calls_per_s: float, seed: int) -> float:
    """The simulator's base rate (first callers per second) that makes `calls_per_s` calls
    in all, second callers included: their share is read off the same seeded stream."""
    catalog = Catalog.from_json(json.loads(CATALOG.read_text(encoding="utf-8")))
    flood = scenario("flood").as_steady()
    sample = CallGenerator(seed=seed, scenario=flood, catalog=catalog, calls_per_s=1.0)
    calls = sample.until(5000.0)
    firsts = sum(1 for c in calls if not c.duplicate)
    return calls_per_s * firsts / len(calls)


async def sustained_load(
    procs: Processes,
    *,
    rate_per_s: float = 50.0,
    duration_s: float = 300.0,
    speed: float = 60.0,
    start_timeout_s: float = 60.0,
    console: Console | None = None,
) -> dict[str, float]:
    say = console.log if console is not None else (lambda *_a, **_k: None)
    server = procs.nats_server("nats-sustained")
    work = procs.fresh_dir("sustained")
    system = System(procs, server, work, ("incidents", "resources", "dispatch"))
    sampler = MemorySampler()
    stop_sampling = asyncio.Event()
    sampling: asyncio.Task[None] | None = None
    try:
        await system.start_services(start_timeout_s)
        assert server.process is not None
        sampler.pids["nats-server"] = server.process.pid
        for name, child in system.children.items():
            sampler.pids[name] = child.process.pid
        say(f"flood at {rate_per_s:g} incidents/s for {duration_s:g} s, {speed:g}× time")
        started = time.monotonic()
        simulator = _start_simulator(procs, system, work / "sim", rate_per_s, duration_s, speed)
        sampler.pids["simulator"] = simulator.process.pid
        sampling = asyncio.create_task(sampler.run(stop_sampling))
        await _wait_for(simulator, system.children, deadline=started + duration_s + 300)
        load_end = min(time.monotonic(), started + duration_s)
        stop_sampling.set()
        await sampling
        say("load over; counting incidents and holds")
        sim = json.loads((work / "sim" / "kpis.json").read_text(encoding="utf-8"))
        result = await census(
            incident_grpc.IncidentServiceStub(system.channels["incidents"]),
            dispatch_grpc.DispatchServiceStub(system.channels["dispatch"]),
            resource_grpc.ResourceServiceStub(system.channels["resources"]),
        )
    finally:
        stop_sampling.set()
        if sampling is not None:
            with contextlib.suppress(Exception):
                await sampling
        await system.close()

    figures = _outcome(sim, result, rate_per_s, duration_s, speed)
    decisions, urgent = decision_ms(EventLog.read_jsonl(work / "sim" / "events.jsonl"))
    figures["sustained.urgent"] = float(urgent)
    figures["sustained.decided"] = float(len(decisions))
    figures["sustained.decision.p50_ms"] = nearest_rank(decisions, 50)
    figures["sustained.decision.p99_ms"] = nearest_rank(decisions, 99)
    figures |= _memory(sampler, started, load_end, duration_s)
    if console is not None:
        print_figures(console, figures, result)
    return figures


def _start_simulator(
    procs: Processes,
    system: System,
    out_dir: Path,
    rate_per_s: float,
    duration_s: float,
    speed: float,
) -> Child:
    return procs.python(
        "simulator",
        ["-m", "icc_simulator.main"],
        env={
            **system.common,
            **system.targets(),
            **system.tls_env("simulator"),
            "ICC_VAR_DIR": str(out_dir.parent),
            "ICC_SIMULATOR_SCENARIO": "flood",
            "ICC_SIMULATOR_STEADY": "1",
            "ICC_SIMULATOR_RATE": str(base_rate_for(rate_per_s, SEED) * 60),
            "ICC_SIMULATOR_DURATION": f"{duration_s}s",
            "ICC_SIMULATOR_SPEED": str(speed),
            "ICC_SIMULATOR_SEED": str(SEED),
            "ICC_SIMULATOR_DRAIN": "20s",
            "ICC_SIMULATOR_END_CHECKS": "0",
            "ICC_SIMULATOR_ADOPT": "0",
            "ICC_SIMULATOR_OUT": str(out_dir),
        },
    )


async def _wait_for(simulator: Child, services: dict[str, Child], deadline: float) -> None:
    """Until the simulator has finished; a service that dies under load fails the run."""
    while simulator.process.poll() is None:
        for name, child in services.items():
            if child.process.poll() is not None:
                raise RuntimeError(f"{name} exited under load:\n{child.log_tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the simulator did not finish:\n{simulator.log_tail()}")
        await asyncio.sleep(1.0)
    if simulator.process.returncode != 0:
        raise RuntimeError(f"the simulator failed:\n{simulator.log_tail()}")


def _outcome(
    sim: dict[str, Any], result: Census, rate_per_s: float, duration_s: float, speed: float
) -> dict[str, float]:
    stats = sim["stats"]
    refused = sum(n for k, n in stats["errors"].items() if k.startswith("create:"))
    figures: dict[str, float] = {
        "sustained.offered_per_s": rate_per_s,
        "sustained.duration_s": duration_s,
        "sustained.calls": float(stats["calls"]),
        "sustained.created_per_s": result.incidents / duration_s,
        "sustained.incidents": float(result.incidents),
        "sustained.refused_calls": float(refused),
        "sustained.served": float(result.served),
        "sustained.waiting": float(result.waiting),
        "sustained.duplicates_ended": float(result.duplicates_ended),
        "sustained.lost": float(len(result.lost)),
        "sustained.double_booked": float(len(result.double_booked)),
    }
    to_dispatch = sim["kpis"]["call_to_dispatch"]["priority"]
    for prio in ("P1", "P2"):
        p = to_dispatch.get(prio, {})
        for q in ("p50", "p99"):
            value = p.get(f"{q}_s")
            # The report is in simulated seconds: back to real milliseconds.
            figures[f"sustained.{prio}.to_dispatch.{q}_ms"] = (
                value / speed * 1000 if value is not None else float("nan")
            )
    return figures


def _memory(
    sampler: MemorySampler, started: float, load_end: float, duration_s: float
) -> dict[str, float]:
    """Each process's memory in the first and the last minute of the load, and its peak."""
    first_end = started + min(60.0, duration_s / 2)
    last_start = load_end - min(60.0, duration_s / 2)
    figures: dict[str, float] = {}
    for name in sampler.pids:
        figures[f"sustained.rss.{name}.first_mb"] = sampler.window_mb(name, started, first_end)
        figures[f"sustained.rss.{name}.last_mb"] = sampler.window_mb(name, last_start, load_end)
        figures[f"sustained.rss.{name}.peak_mb"] = (
            max((kb for _, kb in sampler.samples.get(name, [])), default=0) / 1024
        )
    return figures


def print_figures(console: Console, f: dict[str, float], c: Census) -> None:
    t = Table(title="Sustained flood load", title_justify="left")
    t.add_column("what")
    t.add_column("figure", justify="right")
    rows = [
        ("offered", f"{f['sustained.offered_per_s']:g}/s for {f['sustained.duration_s']:g} s"),
        ("calls placed", f"{f['sustained.calls']:.0f}"),
        (
            "incidents created",
            f"{f['sustained.incidents']:.0f} ({f['sustained.created_per_s']:.1f}/s)",
        ),
        ("calls refused by intake", f"{f['sustained.refused_calls']:.0f}"),
        ("… with units", f"{f['sustained.served']:.0f}"),
        ("… queued for units", f"{f['sustained.waiting']:.0f}"),
        ("… duplicates merged before units", f"{f['sustained.duplicates_ended']:.0f}"),
        ("[bold]incidents lost[/]", f"[bold]{f['sustained.lost']:.0f}[/]"),
        ("[bold]units double-booked[/]", f"[bold]{f['sustained.double_booked']:.0f}[/]"),
        (
            "P1/P2 first calls dispatch decided on (units or shortfall told)",
            f"{f['sustained.decided']:.0f} of {f['sustained.urgent']:.0f}",
        ),
        (
            "… call → that decision, p50 / p99",
            f"{f['sustained.decision.p50_ms']:.0f} / {f['sustained.decision.p99_ms']:.0f} ms",
        ),
        (
            "P1 call → first unit assigned (incl. waiting for a unit), p50 / p99",
            f"{f['sustained.P1.to_dispatch.p50_ms']:.0f} / {f['sustained.P1.to_dispatch.p99_ms']:.0f} ms",
        ),
    ]
    for what, value in rows:
        t.add_row(what, value)
    console.print(t)
    m = Table(title="Resident memory (MiB): first minute vs last minute of the load")
    for col in ("process", "first", "last", "change", "peak"):
        m.add_column(col, justify="left" if col == "process" else "right")
    names = sorted({k.split(".")[2] for k in f if k.startswith("sustained.rss.")})
    for name in names:
        first = f[f"sustained.rss.{name}.first_mb"]
        last = f[f"sustained.rss.{name}.last_mb"]
        change = (last - first) / first * 100 if first == first and first else float("nan")
        m.add_row(
            name,
            f"{first:.0f}",
            f"{last:.0f}",
            f"{change:+.0f}%",
            f"{f[f'sustained.rss.{name}.peak_mb']:.0f}",
        )
    console.print(m)
    for problem in (c.lost + c.double_booked)[:10]:
        console.print(f"[red]{problem}[/]")
    console.print(f"incident states at the end: {dict(c.states)}")


async def sustained(procs: Processes, settings: Settings) -> dict[str, float]:
    """The harness for bench/suite.py: 5 minutes at 50/s (1 minute with quick settings)."""
    quick = settings.dispatch_seconds < Settings().dispatch_seconds
    return await sustained_load(
        procs, duration_s=60.0 if quick else 300.0, start_timeout_s=settings.start_timeout_s
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sustained", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rate", type=float, default=50.0, help="incidents per second (50)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (300)")
    parser.add_argument("--speed", type=float, default=60.0, help="simulated time factor (60)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "var/bench/sustained.json")
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    args = parser.parse_args(argv)
    console = Console(log_path=False)
    try:
        with scratch_processes("icc-sustained-", keep=args.keep) as procs:
            figures = asyncio.run(
                sustained_load(
                    procs,
                    rate_per_s=args.rate,
                    duration_s=args.duration,
                    speed=args.speed,
                    console=console,
                )
            )
    except KeyboardInterrupt:
        return 130
    if args.keep:
        console.print(f"logs and databases kept in {procs.workdir}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    console.print(f"figures written to {args.json}")
    ok = figures["sustained.lost"] == 0 and figures["sustained.double_booked"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
