"""A simulated day of calls at the incidents service alone, to measure its duplicate
check: the call-taker plays every call as in a full run (`players/calltaker.py`: the
place searched when the caller names one, `FindPossibleDuplicates`, a repeat attached
with `AddCaller` when the check offers its event's incident, else `CreateIncident`) and
each incident is closed when its event would be over (40 to 90 simulated minutes), so
that what is open at any moment is what a day would have open. The simulator knows
which calls repeat which event; `Stats` counts the check's hits, false alarms and
misses, hence its precision and recall.

The service keeps real time: start it with its window compressed by the same speed
(`ICC_DUPLICATE_WINDOW_MIN` = 10 / speed), as `tools/simulator/tests/test_dupday.py`
does, then `python -m icc_simulator.dupday --speed 720 --hours 24` (about 2 real
minutes for a day).
"""

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass

from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc_simulator.players import api
from icc_simulator.players.api import DISPATCHER, TIMEOUT_S, Clients
from icc_simulator.players.calltaker import CallTaker
from icc_simulator.players.clock import SimClock
from icc_simulator.players.tasks import Background
from icc_simulator.world import scenarios
from icc_simulator.world.calls import Call, CallGenerator
from icc_simulator.world.stats import Stats
from icc_simulator.world.timescale import TimeScale

# How long an event keeps its incident open (simulated seconds).
OPEN_FOR_S = (40 * 60.0, 90 * 60.0)
DUPLICATE_WINDOW_MIN = 10.0


@dataclass(frozen=True)
class DayPlan:
    seed: int = 1
    hours: float = 24.0
    # First calls a simulated hour (the day's mean; repeat callers come on top).
    calls_per_hour: float = 120.0
    speed: float = 720.0

    def service_window_min(self) -> float:
        """What the service's ICC_DUPLICATE_WINDOW_MIN must be at this speed."""
        return DUPLICATE_WINDOW_MIN / self.speed


async def play_day(clients: Clients, plan: DayPlan) -> Stats:
    """Every call of the plan's span, then each incident closed in its time."""
    stats = Stats()
    clock = SimClock(TimeScale(plan.speed))
    rng = random.Random(plan.seed)
    closing = Background(stats, "close", "closing an incident failed")

    async def close_later(name: str) -> None:
        await clock.sleep(rng.uniform(*OPEN_FOR_S))
        await api.with_retries(
            lambda: clients.incidents.CloseIncident(
                ipb.CloseIncidentRequest(name=name, resolution="dupday: event over"),
                timeout=TIMEOUT_S,
                metadata=DISPATCHER,
            )
        )

    def created(call: Call, incident: incident_pb2.Incident) -> None:
        stats.incidents += 1
        stats.duplicates += call.duplicate
        closing.spawn(close_later(incident.name))

    generator = CallGenerator(
        seed=plan.seed,
        scenario=scenarios.scenario("normal"),
        catalog=await api.catalog(clients),
        calls_per_s=plan.calls_per_hour / 3600,
    )
    taker = CallTaker(clients.incidents, clock, stats, f"dupday-{plan.seed}", created)
    await taker.play(iter(generator), plan.hours * 3600, asyncio.Event())
    await closing.stop()
    return stats


def summary(stats: Stats) -> str:
    def share(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    return (
        f"{stats.calls} calls: {stats.incidents} incidents, {stats.attached} repeat callers "
        f"attached; duplicate check precision {share(stats.duplicate_precision)}, recall "
        f"{share(stats.duplicate_recall)} ({stats.duplicate_hits} hits, "
        f"{stats.duplicate_false_alarms} false alarms, {stats.duplicate_misses} misses); "
        f"places searched {stats.places_searched}, not found {stats.places_not_found}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m icc_simulator.dupday", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--calls-per-hour", type=float, default=120.0)
    parser.add_argument("--speed", type=float, default=720.0)
    args = parser.parse_args(argv)
    plan = DayPlan(args.seed, args.hours, args.calls_per_hour, args.speed)
    window = plan.service_window_min()
    print(f"the incidents service must run with ICC_DUPLICATE_WINDOW_MIN={window:.6g}")

    async def run() -> Stats:
        clients = Clients(api.Endpoints.from_env())
        try:
            return await play_day(clients, plan)
        finally:
            await clients.close()

    print(summary(asyncio.run(run())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
