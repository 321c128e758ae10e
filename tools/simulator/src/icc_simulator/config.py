"""Settings of one simulation run, from code, the command line or `ICC_SIMULATOR_*`."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from icc_kernel.settings import flag, number, whole

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float | None:
    """`90`, `90s`, `10m`, `1.5h` -> seconds; `0`, `forever` or empty -> None (no end)."""
    if text.strip().lower() in ("", "0", "forever", "inf"):
        return None
    m = _DURATION.match(text.lower())
    if m is None:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 10m, 1h)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    return seconds or None


@dataclass(frozen=True)
class SimConfig:
    scenario: str = "normal"
    # Base call rate in calls per real minute: the load offered to the system, which the
    # scenario's hour-of-day mix and surge windows scale.
    rate_per_min: float = 20.0
    # Real seconds of calls (None: until stopped); then the run drains.
    duration_s: float | None = 600.0
    seed: int = 1
    # Simulated seconds per real second.
    speed: float = 60.0
    # Local hour at the start of the run (None: the scenario's).
    start_hour: int | None = None
    # Real seconds to let open incidents finish after the last call (None: 3 simulated
    # hours, at most 10 real minutes).
    drain_s: float | None = None
    # The scenario's mix at a constant rate (sustained-load benchmarks).
    steady: bool = False
    # Stations to close (overrides the scenario's list; station-closed only).
    stations: tuple[str, ...] = ()
    # At most this many calls (None: no limit).
    max_calls: int | None = None
    # Simulated seconds between a moving unit's position reports, never more often
    # than `min_report_s` real seconds (the AVL load stays bounded at high speed).
    report_every_s: float = 10.0
    min_report_s: float = 1.0
    # Take over units and incidents an earlier run left working.
    adopt: bool = True
    # Explain open incidents and look for double-booked units at the end (a benchmark
    # with thousands of open incidents does its own checks).
    end_checks: bool = True
    # Where the event log, KPI JSON and chart go (None: nowhere).
    out_dir: Path | None = Path("var/sim")

    def __post_init__(self) -> None:
        if self.rate_per_min < 0:
            raise ValueError("rate must be 0 or more calls per minute")
        if not self.speed > 0:
            raise ValueError("speed must be above 0")
        if self.start_hour is not None and not 0 <= self.start_hour <= 23:
            raise ValueError("start hour must be 0..23")

    @property
    def calls_per_sim_s(self) -> float:
        """The base rate per *simulated* second: what the call generator takes."""
        return self.rate_per_min / 60.0 / self.speed

    @property
    def drain_real_s(self) -> float:
        if self.drain_s is not None:
            return self.drain_s
        return min(3 * 3600.0 / self.speed, 600.0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "SimConfig":
        def get(name: str, default: str) -> str:
            return env.get(f"ICC_SIMULATOR_{name}", default)

        def given(name: str) -> bool:
            return bool(get(name, "").strip())

        p = "ICC_SIMULATOR_"
        drain = get("DRAIN", "")
        stations = get("STATIONS", "")
        out = get("OUT", "")
        return cls(
            scenario=get("SCENARIO", "normal"),
            rate_per_min=number(env, p + "RATE", 2.0, least=0.0),
            duration_s=parse_duration(get("DURATION", "forever")),
            seed=whole(env, p + "SEED", 1),
            speed=number(env, p + "SPEED", 1.0),
            start_hour=(
                whole(env, p + "START_HOUR", 0, least=0, most=23) if given("START_HOUR") else None
            ),
            drain_s=parse_duration(drain) if drain else None,
            steady=flag(env, p + "STEADY", False),
            stations=tuple(s.strip() for s in stations.split(",") if s.strip()),
            max_calls=whole(env, p + "MAX_CALLS", 0, least=1) if given("MAX_CALLS") else None,
            report_every_s=number(env, p + "REPORT_EVERY_S", 10.0, least=0.1),
            adopt=flag(env, p + "ADOPT", True),
            end_checks=flag(env, p + "END_CHECKS", True),
            out_dir=Path(out) if out else Path(env.get("ICC_VAR_DIR", "var")) / "sim",
        )
