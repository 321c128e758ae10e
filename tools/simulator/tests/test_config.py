"""The simulator's `ICC_SIMULATOR_*` settings: read as every ICC setting is, and a value
that does not fit stops the simulator naming it."""

from pathlib import Path

import pytest

from icc_kernel.settings import SettingError
from icc_simulator.config import SimConfig
from icc_testing import refused_start


def test_the_environment_sets_a_run() -> None:
    config = SimConfig.from_env(
        {
            "ICC_SIMULATOR_RATE": "30",
            "ICC_SIMULATOR_SEED": "7",
            "ICC_SIMULATOR_START_HOUR": "17",
            "ICC_SIMULATOR_MAX_CALLS": "50",
            "ICC_SIMULATOR_STEADY": "yes",
            "ICC_SIMULATOR_ADOPT": "off",
            "ICC_SIMULATOR_DURATION": "10m",
        }
    )
    assert (config.rate_per_min, config.seed, config.start_hour, config.max_calls) == (
        30.0,
        7,
        17,
        50,
    )
    assert config.steady and not config.adopt and config.end_checks
    assert config.duration_s == 600.0
    unset = SimConfig.from_env({})
    assert (unset.start_hour, unset.max_calls, unset.rate_per_min) == (None, None, 2.0)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("ICC_SIMULATOR_RATE", "lots", "expected a number"),
        ("ICC_SIMULATOR_SEED", "1.5", "expected a whole number"),
        ("ICC_SIMULATOR_START_HOUR", "24", "at most 23"),
        ("ICC_SIMULATOR_MAX_CALLS", "0", "at least 1"),
        # Was read as "yes" before: any word but 0/false/no.
        ("ICC_SIMULATOR_ADOPT", "nope", "expected 1 or 0"),
    ],
)
def test_a_value_that_does_not_fit_names_the_setting(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingError, match=f"{name}: {says}"):
        SimConfig.from_env({name: value})


def test_the_simulator_process_says_which_setting_and_exits(tmp_path: Path) -> None:
    said = refused_start(
        "icc_simulator.main", tmp_path, ICC_SIMULATOR_SEED="abc", ICC_VAR_DIR=str(tmp_path)
    )
    assert "icc-simulator: ICC_SIMULATOR_SEED: expected a whole number, got 'abc'" in said
