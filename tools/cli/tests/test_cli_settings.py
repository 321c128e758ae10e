"""Any `icc` command ends with one line naming a setting that does not fit."""

import os
import subprocess
import sys
from pathlib import Path


def test_a_bad_setting_ends_a_command_with_its_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "icc_cli.main", "status"],
        env={**os.environ, "ICC_SIMULATOR_RATE": "lots", "ICC_VAR_DIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ICC_SIMULATOR_RATE: expected a number, got 'lots'" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
