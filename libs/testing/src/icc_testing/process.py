"""A service run as a real OS process, for fault tests that kill it."""

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import grpc

from icc_rpc import wait_serving


class ServiceProcess:
    """`python -m MODULE` with extra env; waits for gRPC health SERVING on `target`
    (asked with `credentials`)."""

    def __init__(
        self,
        module: str,
        target: str,
        env: Mapping[str, str],
        log_path: Path,
        credentials: grpc.ChannelCredentials,
    ) -> None:
        self.module = module
        self.credentials = credentials
        self.target = target
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30, **extra_env: str) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env={**os.environ, **self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process = self.process

        def still_running() -> None:
            if process.poll() is not None:
                raise RuntimeError(f"{self.module} exited; see {self.log_path}")

        if wait_serving(
            self.target, self.credentials, timeout_s=timeout_s, still_running=still_running
        ):
            return
        raise RuntimeError(f"{self.module} not healthy in {timeout_s} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def refused_start(module: str, cwd: Path, *args: str, **env: str) -> str:
    """Run `python -m MODULE ARGS` with `env` on top of this one, expecting it to refuse to
    start: exit code 2 and no traceback. Returns what it printed (stdout and stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "Traceback" not in said, said
    return said
