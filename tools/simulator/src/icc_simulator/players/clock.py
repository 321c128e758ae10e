"""The simulated clock of one run: reads real time and sleeps for simulated durations
(`TimeScale` does the arithmetic)."""

import asyncio
import time
from collections.abc import Callable

from icc_simulator.world.timescale import TimeScale


class SimClock:
    """The simulated clock of one run, started at construction."""

    def __init__(
        self,
        scale: TimeScale,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.scale = scale
        self._monotonic = monotonic
        self._wall = wall
        self.origin_monotonic = monotonic()
        self.origin_wall = wall()

    @property
    def speed(self) -> float:
        return self.scale.speed

    def real_elapsed(self) -> float:
        return self._monotonic() - self.origin_monotonic

    def sim_now(self) -> float:
        return self.scale.to_sim(self.real_elapsed())

    def wall_now(self) -> float:
        """Unix time now: what the services record, and what AVL reports carry."""
        return self._wall()

    def hour_now(self) -> int:
        return self.scale.hour_at(self.sim_now())

    async def sleep(self, sim_s: float) -> None:
        """Waits `sim_s` simulated seconds."""
        await asyncio.sleep(max(0.0, self.scale.to_real(sim_s)))

    async def sleep_until(self, sim_s: float) -> None:
        await asyncio.sleep(max(0.0, self.scale.to_real(sim_s) - self.real_elapsed()))
