"""The processes `icc run` starts, held so that none outlives it.

Every child joins one process group, led by a small watchdog (`icc_cli.watchdog`) that
reads a pipe whose other end only `icc run` holds: when `icc run` ends, however it ends
(SIGKILL included), the kernel closes the pipe and the watchdog stops the group (SIGTERM,
then SIGKILL after a grace). Each child also asks Linux for SIGTERM when its parent dies
(`PR_SET_PDEATHSIG`), so it begins to stop at once, even if the watchdog went too.

The group is not the terminal's, so Ctrl-C reaches `icc run` alone, and `icc run` stops
its children itself: in waves (the services, then the bus and the trace sink they drain
into), each wave signalled at once and bounded as a whole, naming what did not stop.

`var/processes.json` lists the running children (pid, log, how to ask its health) for
`icc status`; it is removed at a clean stop.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_SIGTERM = int(signal.SIGTERM)
# Services stop in a second or two (gRPC grace 3 s at most); beyond this something hangs.
WAVE_TIMEOUT_S = 10.0
# What the watchdog gives the group between SIGTERM and SIGKILL once `icc run` is gone.
WATCHDOG_GRACE_S = 1.5


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up before any fork (the child must not load anything)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _die_with(parent: int) -> Callable[[], None]:
    """A preexec hook: SIGTERM to the child when `parent` dies. It runs between fork and
    exec, so it only calls what was prepared beforehand."""

    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, _SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was asked for
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@dataclass(frozen=True)
class Probe:
    """How `icc status` asks a process whether it is well: `grpc` (the standard health
    service at `target`, host:port), `http` (200 from the URL `target`), or `process`
    (alive is all there is to know)."""

    kind: str
    target: str = ""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    probe: Probe
    # Stopped in waves, the highest first: what drains into others stops before them.
    wave: int


@dataclass
class Stopped:
    """How a stop went: each child's time from SIGTERM to its end, and what was killed."""

    took_s: dict[str, float] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)

    def slowest(self) -> tuple[str, float] | None:
        return max(self.took_s.items(), key=lambda item: item[1], default=None)


@dataclass(frozen=True)
class Listed:
    """A child as `var/processes.json` lists it."""

    name: str
    pid: int
    log: str
    probe: Probe


@dataclass(frozen=True)
class Manifest:
    supervisor: int  # the pid of `icc run`
    processes: tuple[Listed, ...]

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            supervisor=int(raw["supervisor"]),
            processes=tuple(
                Listed(p["name"], int(p["pid"]), p["log"], Probe(**p["probe"]))
                for p in raw["processes"]
            ),
        )


def manifest_path(var_dir: Path) -> Path:
    return var_dir / "processes.json"


@dataclass
class Supervisor:
    var_dir: Path
    children: list[Child] = field(default_factory=list)
    _watchdog: subprocess.Popen[bytes] | None = None
    _lifeline: int | None = None  # the write end of the watchdog's pipe; never written

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        probe: Probe,
        wave: int,
    ) -> Child:
        """Starts `argv` in the group, its output appended to `var/log/<name>.log`. Call it
        from the main thread: Linux sends the parent-death signal when the *thread* that
        forked the child ends."""
        group = self._group()
        log_dir = self.var_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with log_path.open("ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                process_group=group,
                preexec_fn=_die_with(os.getpid()),
            )
        child = Child(name, process, log_path, probe, wave)
        self.children.append(child)
        self._write_manifest()
        return child

    def first_exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self, wave_timeout_s: float = WAVE_TIMEOUT_S) -> "Stopped":
        """Stops every child, wave by wave: each wave signalled at once, and what outlasts
        the wave's `wave_timeout_s` killed (and named in the result)."""
        stopped = Stopped()
        for wave in sorted({c.wave for c in self.children}, reverse=True):
            members = [c for c in self.children if c.wave == wave and c.process.poll() is None]
            started = time.monotonic()
            for child in members:
                child.process.send_signal(signal.SIGTERM)
            waiting = list(members)
            while waiting and time.monotonic() - started < wave_timeout_s:
                time.sleep(0.02)
                for child in [c for c in waiting if c.process.poll() is not None]:
                    stopped.took_s[child.name] = time.monotonic() - started
                    waiting.remove(child)
            for child in waiting:
                stopped.killed.append(f"{child.name} (pid {child.process.pid})")
                child.process.kill()
                child.process.wait()
        self.children.clear()
        self._release_watchdog()
        manifest_path(self.var_dir).unlink(missing_ok=True)
        return stopped

    def _group(self) -> int:
        """The watchdog's pid, which is the group's id; the watchdog starts with the first
        child."""
        if self._watchdog is None:
            read, write = os.pipe()  # not inherited by later children (close_fds)
            log_dir = self.var_dir / "log"
            log_dir.mkdir(parents=True, exist_ok=True)
            try:
                with (log_dir / "watchdog.log").open("ab") as log:
                    self._watchdog = subprocess.Popen(
                        [sys.executable, "-m", "icc_cli.watchdog", str(WATCHDOG_GRACE_S)],
                        stdin=read,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        process_group=0,
                    )
            except BaseException:
                os.close(write)
                raise
            finally:
                os.close(read)
            self._lifeline = write
        return self._watchdog.pid

    def _release_watchdog(self) -> None:
        """After an orderly stop: the watchdog finds its group empty and ends."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None

    def _write_manifest(self) -> None:
        manifest = {
            "supervisor": os.getpid(),
            "processes": [
                {
                    "name": c.name,
                    "pid": c.process.pid,
                    "log": str(c.log_path),
                    "probe": asdict(c.probe),
                }
                for c in self.children
            ],
        }
        path = manifest_path(self.var_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)  # `icc status` never reads half a file
