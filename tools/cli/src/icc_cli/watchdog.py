"""The watchdog of `icc run`: when `icc run` ends, however it ends, its processes end too.

`icc_cli.supervisor` starts it as the leader of the process group that every child of
`icc run` joins, with the read end of a pipe as its stdin. Nothing is ever written to the
pipe: end of file is the news. It comes when `icc run` closes the pipe after stopping its
children itself (the group is empty then, and the watchdog just ends), or when the kernel
closes it because `icc run` died. Then what is left of the group gets SIGTERM, and
SIGKILL after the grace (the one argument, in seconds).
"""

import contextlib
import os
import signal
import sys
import time
from pathlib import Path


def stat(pid: int) -> tuple[str, int] | None:
    """The state letter and process group of `pid` (None when there is no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def members(group: int) -> list[int]:
    """The live processes of `group` other than this one (zombies are gone already)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        seen = stat(pid)
        if seen is not None and seen[0] != "Z" and seen[1] == group and pid != os.getpid():
            found.append(pid)
    return found


def _signal_each(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _say(message: str) -> None:
    print(time.strftime("%Y-%m-%dT%H:%M:%S"), "icc-watchdog:", message, flush=True)


def main(argv: list[str]) -> None:
    grace_s = float(argv[1]) if len(argv) > 1 else 2.0
    # Signals sent to the whole group are for the others.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    group = os.getpgrp()
    left = members(group)
    if not left:
        return
    _say(f"icc run is gone; stopping {len(left)} processes it left: {left}")
    _signal_each(left, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = members(group)
    if left:
        _say(f"killing {left}: still there {grace_s:g} s after SIGTERM")
        _signal_each(left, signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv)
