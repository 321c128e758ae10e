"""A service started with a setting that does not fit says which, and exits: no traceback,
no start on a silent default."""

import os
import subprocess
import sys
from pathlib import Path


def test_a_service_with_a_bad_setting_says_which_and_exits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ICC_DISPATCH_ACK_TIMEOUT_S": "a minute",
        "ICC_METRICS_PORT": "",
        "ICC_OTLP_ENDPOINT": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "icc_dispatch.main"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "icc-dispatch: ICC_DISPATCH_ACK_TIMEOUT_S: expected a number, got 'a minute'" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
