"""The sink's numbers: a value that does not fit stops it naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from icc_tracesink.main import Config


def test_numbers_are_read_and_bad_ones_named() -> None:
    config = Config.from_env({"ICC_TRACESINK_RETENTION_H": "24", "ICC_TRACESINK_MAX_SPANS": ""})
    assert (config.retention_h, config.max_spans) == (24.0, 2_000_000)
    with pytest.raises(ValueError, match="ICC_TRACESINK_MAX_SPANS: expected a number"):
        Config.from_env({"ICC_TRACESINK_MAX_SPANS": "many"})
    with pytest.raises(ValueError, match="ICC_TRACESINK_RETENTION_H: at least 0"):
        Config.from_env({"ICC_TRACESINK_RETENTION_H": "-1"})


def test_the_sink_says_which_setting_and_exits(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "icc_tracesink.main"],
        env={**os.environ, "ICC_TRACESINK_MAX_SPANS": "many", "ICC_VAR_DIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "icc-tracesink: ICC_TRACESINK_MAX_SPANS: expected a number, got 'many'" in done.stderr
    assert "Traceback" not in done.stderr
