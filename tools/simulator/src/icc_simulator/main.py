"""`python -m icc_simulator.main`: a simulation configured from the environment.

`ICC_SIMULATOR_SCENARIO` (normal), `_RATE` (calls per real minute, 2; 0 is off),
`_DURATION` (`10m`, `forever`), `_SEED`, `_SPEED` (1: real time), `_START_HOUR`,
`_STEADY`, `_STATIONS`, `_DRAIN`, `_OUT`, `_END_CHECKS`; services from
`ICC_*_TARGET` / `ICC_NATS_URL` or the endpoints file of `icc run`
(`$ICC_VAR_DIR/endpoints.json`). SIGINT/SIGTERM end the run at once (no drain), and the
report of what ran is written and printed. Progress goes to the log every 30 s.
"""

import asyncio
import contextlib
import logging
import signal
import sys

import uvloop
from rich.console import Console

from icc_simulator.config import SimConfig
from icc_simulator.players.api import Endpoints
from icc_simulator.report.files import write_files
from icc_simulator.report.result import RunResult
from icc_simulator.report.tables import print_report
from icc_simulator.run import Simulation
from icc_telemetry import TelemetryConfig, setup_telemetry

log = logging.getLogger("icc_simulator")
PROGRESS_EVERY_S = 30.0


async def _progress(sim: Simulation, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), PROGRESS_EVERY_S)
        s = sim.stats
        log.info(
            "simulation progress",
            extra={
                "phase": sim.phase,
                "sim_time_s": round(sim.sim_now),
                "calls": s.calls,
                "incidents": s.incidents,
                "open": s.open,
                "closed": s.closed,
                "units_busy": s.units_busy,
                "errors": sum(s.errors.values()),
            },
        )


async def simulate(config: SimConfig, endpoints: Endpoints) -> RunResult:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    sim = Simulation(config, endpoints)
    done = asyncio.Event()
    progress = asyncio.create_task(_progress(sim, done))
    try:
        return await sim.run(stopping)
    finally:
        done.set()
        await progress


def run() -> None:
    try:
        config = SimConfig.from_env()
    except ValueError as exc:
        print(f"icc-simulator: {exc}", file=sys.stderr)
        sys.exit(2)
    if config.rate_per_min == 0:
        print("icc-simulator: ICC_SIMULATOR_RATE=0, the simulator is off")
        return
    try:
        endpoints = Endpoints.from_env()
        telemetry = setup_telemetry(TelemetryConfig.from_env("simulator"))
    except (OSError, ValueError) as exc:
        print(f"icc-simulator: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.getLogger("icc_simulator").setLevel(logging.INFO)
    try:
        result = uvloop.run(simulate(config, endpoints))
    except (RuntimeError, ValueError, KeyError) as exc:
        print(f"icc-simulator: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        telemetry.shutdown()
    if config.out_dir is not None:
        files = write_files(result, config.out_dir)
        log.info("simulation report written", extra={k: str(v) for k, v in files.items()})
    print_report(result, Console(width=140))


if __name__ == "__main__":
    run()
