"""One benchmark run: every harness, N repetitions interleaved, then the tables and JSON.

Repetitions are interleaved (floor, pipeline, service; floor, pipeline, service; ...)
so that a slow spell of this shared machine does not land on one side only. Each
harness repetition gets its own nats-server, SQLite files and child processes, and
everything it started is ended before the next one begins.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import uvloop
from rich.console import Console

from bench import report
from bench.avl import avl_floor, avl_service
from bench.baseline import bare_pipeline, grpc_echo, jetstream_publish, sqlite_commits
from bench.calltaking import calltaking
from bench.cluster import dispatch_cluster
from bench.dispatch import dispatch_e2e, dispatch_recommend
from bench.gateway_fanout import gateway_fanout
from bench.procs import REPO_ROOT, Processes
from bench.screen import screen
from bench.service import incidents_plain, incidents_service, incidents_traced
from bench.settings import Settings
from bench.sustained import sustained
from icc_testing.nats_server import nats_server_binary

Harness = Callable[[Processes, Settings], Awaitable[dict[str, float]]]

HARNESSES: list[tuple[str, Harness]] = [
    ("grpc-echo", grpc_echo),
    ("sqlite", sqlite_commits),
    ("jetstream", jetstream_publish),
    ("bare-pipeline", bare_pipeline),
    ("incidents-service", incidents_service),
    ("incidents-plain", incidents_plain),
    ("incidents-traced", incidents_traced),
    ("calltaking", calltaking),
    ("avl-floor", avl_floor),
    ("avl-service", avl_service),
    ("dispatch-recommend", dispatch_recommend),
    ("dispatch-e2e", dispatch_e2e),
    ("dispatch-cluster", dispatch_cluster),
    ("gateway-fanout", gateway_fanout),
    ("screen", screen),
    ("sustained", sustained),
]
# Long runs measured once per `make bench`, in the first repetition.
ONCE = {"sustained"}
HARNESS_TIMEOUT_S = 900.0  # the sustained run: 5 minutes of load, start-up and checks
DEFAULT_JSON = REPO_ROOT / "var" / "bench" / "latest.json"


class Run:
    """The state of one run, so that whatever it started can be ended from `finally`."""

    def __init__(
        self,
        settings: Settings,
        workdir: Path,
        console: Console,
        harnesses: list[tuple[str, Harness]],
    ) -> None:
        self.settings = settings
        self.harnesses = harnesses
        self.workdir = workdir
        self.console = console
        self.runs: dict[str, list[float]] = defaultdict(list)
        self.live: list[Processes] = []
        self.failed: list[str] = []

    async def all(self) -> None:
        s = self.settings
        for rep in range(1, s.repetitions + 1):
            for name, harness in self.harnesses:
                if name in ONCE and rep > 1:
                    continue
                self.console.log(f"repetition {rep}/{s.repetitions}: {name}")
                started = time.monotonic()
                try:
                    figures = await self.one(f"r{rep}-{name}", harness)
                except Exception as exc:
                    # One broken harness leaves gaps in the tables, not a lost run.
                    self.console.log(f"  [red]FAILED[/red]: {type(exc).__name__}: {exc}")
                    self.failed.append(f"r{rep}-{name}")
                    continue
                for key, value in figures.items():
                    self.runs[key].append(value)
                self.console.log(f"  done in {time.monotonic() - started:.1f} s")

    async def one(self, label: str, harness: Harness) -> dict[str, float]:
        procs = Processes(self.workdir / label)
        self.live.append(procs)
        try:
            return await asyncio.wait_for(harness(procs, self.settings), HARNESS_TIMEOUT_S)
        finally:
            procs.stop_all()
            self.live.remove(procs)

    def stop_everything(self) -> None:
        for procs in self.live:
            procs.stop_all()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("grpcio", "nats-py", "sqlalchemy", "aiosqlite", "uvloop", "protobuf"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "?"
    try:
        version = subprocess.run(
            [nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10
        )
        out["nats-server"] = version.stdout.strip()
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        out["nats-server"] = "?"
    return out


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`, which ends the children


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="The bare-stack floor beside the incidents and resources services, in one run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one repetition with fewer requests (smoke run)"
    )
    parser.add_argument("--repetitions", type=int, help="repetitions (default 3; quick: 1)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, databases)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name, _ in HARNESSES],
        help="run only this harness (repeatable); the tables then have gaps",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.repetitions:
        settings = replace(settings, repetitions=args.repetitions)
    console = Console(log_path=False)
    if not console.is_terminal:
        console = Console(log_path=False, width=120)  # tables readable in a log file too
    workdir = Path(tempfile.mkdtemp(prefix="icc-bench-"))
    harnesses = [(n, h) for n, h in HARNESSES if not args.only or n in args.only]
    run = Run(settings, workdir, console, harnesses)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    ok = False
    console.log(
        f"{settings.repetitions} repetition(s): {settings.sequential} sequential, "
        f"{settings.concurrent} over {settings.clients} clients; work directory {workdir}"
    )
    try:
        uvloop.run(run.all())
        ok = True
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    finally:
        run.stop_everything()
        if ok and not run.failed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            console.print(f"logs and databases kept in {workdir}")
    elapsed = time.monotonic() - started

    medians = report.summarize(run.runs)
    report.print_report(console, medians, run.runs)
    console.print(
        f"{settings.repetitions} repetition(s) in {elapsed:.0f} s on {os.cpu_count()} CPUs"
    )

    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(),
        "elapsed_s": round(elapsed, 1),
        "settings": asdict(settings),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), **_versions()},
        **report.as_json(medians, run.runs),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    console.print(f"results written to {args.json}")
    if run.failed:
        console.print(f"[red]failed: {', '.join(run.failed)}[/red] (logs in {workdir})")
        return 1
    return 0
