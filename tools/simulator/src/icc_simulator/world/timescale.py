"""Time compression: simulated seconds for the call stream and every unit's timings.

At `speed` 60 a simulated minute passes in a real second, so a normal day plays in
24 minutes. Only the simulator's own waits are compressed (when the next call comes,
how long a crew takes to answer, drive, work on scene). The services record real
wall-clock timestamps, so KPIs are computed in real seconds and multiplied by the
speed to report them in simulated time; the system's own latency is multiplied too.

Pure conversions here; the clock that reads time and sleeps is the players'
(`icc_simulator.players.clock`).
"""

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
