"""Time compression: one simulated clock for the call stream and every unit's timings.

At `speed` 60 a simulated minute passes in a real second, so a normal day plays in
24 minutes. Only the simulator's own waits are compressed (when the next call comes,
how long a crew takes to answer, drive, work on scene). The services record real
wall-clock timestamps, so KPIs are computed in real seconds and multiplied by the
speed to report them in simulated time; the system's own latency is multiplied too.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

HOURS = 24


@dataclass(frozen=True)
class TimeScale:
    """Pure conversions between real seconds and simulated seconds."""

    speed: float = 1.0
    # Local hour (Asia/Ho_Chi_Minh) at simulated second 0.
    start_hour: int = 0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be above 0, got {self.speed}")

    def to_sim(self, real_s: float) -> float:
        return real_s * self.speed

    def to_real(self, sim_s: float) -> float:
        return sim_s / self.speed

    def hour_at(self, sim_s: float) -> int:
        return int(self.start_hour + sim_s // 3600) % HOURS

    def label(self, sim_s: float) -> str:
        """`HH:MM` local simulated time, with `+Nd` past midnight of the first day."""
        total = self.start_hour * 3600 + int(sim_s)
        days, rest = divmod(total, 86400)
        hh, rest = divmod(rest, 3600)
        text = f"{hh:02d}:{rest // 60:02d}"
        return f"{text} +{days}d" if days else text


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
