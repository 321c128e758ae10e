"""The sink's numbers: a value that does not fit stops it naming the variable."""

from pathlib import Path

import pytest

from icc_testing import refused_start
from icc_tracesink.main import Config


def test_numbers_are_read_and_bad_ones_named() -> None:
    config = Config.from_env({"ICC_TRACESINK_RETENTION_H": "24", "ICC_TRACESINK_MAX_SPANS": ""})
    assert (config.retention_h, config.max_spans) == (24.0, 2_000_000)
    with pytest.raises(ValueError, match="ICC_TRACESINK_MAX_SPANS: expected a number"):
        Config.from_env({"ICC_TRACESINK_MAX_SPANS": "many"})
    with pytest.raises(ValueError, match="ICC_TRACESINK_RETENTION_H: at least 0"):
        Config.from_env({"ICC_TRACESINK_RETENTION_H": "-1"})


def test_the_sink_says_which_setting_and_exits(tmp_path: Path) -> None:
    said = refused_start(
        "icc_tracesink.main", tmp_path, ICC_TRACESINK_MAX_SPANS="many", ICC_VAR_DIR=str(tmp_path)
    )
    assert "icc-tracesink: ICC_TRACESINK_MAX_SPANS: expected a number, got 'many'" in said
