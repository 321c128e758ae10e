"""The bus `icc run` starts: the deployment's users and permissions on one nats-server,
with passwords made for this var folder. A client without credentials (or with a wrong
password) is refused; each service may publish only its own facts; a device only
positions. Real nats-server (the pinned one `icc run` starts), real nats-py clients."""

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError

from icc_bus import flush
from icc_cli.config import StackConfig
from icc_cli.local_secrets import local_nats_passwords, local_nats_user
from icc_cli.stack import Stack
from icc_testing import free_port


@pytest.fixture
def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    env = {
        "ICC_VAR_DIR": str(tmp_path / "var"),
        "ICC_NATS_PORT": str(free_port()),
        "ICC_NATS_MONITOR_PORT": str(free_port()),
    }
    running = Stack(StackConfig.from_env(env))
    running.start_nats()
    try:
        yield running  # type: ignore[misc]
    finally:
        running.stop()


class Denials:
    """What the server refused on one connection (nats-py reports a permissions
    violation to the error callback, the connection stays up)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))


async def _as(stack: Stack, user: str) -> tuple[Client, Denials]:
    found = local_nats_user(stack.config.var_dir, user)
    assert found is not None, f"no password for {user}"
    denials = Denials()
    client = await nats.connect(
        stack.config.nats_url,
        user=found[0],
        password=found[1],
        error_cb=denials.record,
        allow_reconnect=False,
        connect_timeout=5,
    )
    return client, denials


async def _published(client: Client, denials: Denials, subject: str) -> bool:
    """Whether the server took a publish on `subject`: the server answers the flush's
    PING after the publish, so a refusal has reached the callback by then."""
    before = len(denials.seen)
    await client.publish(subject, b"x")
    await flush(client)
    refused = denials.seen[before:]
    assert all("permissions violation" in d.lower() for d in refused), refused
    return not refused


def test_the_local_bus_refuses_anonymous_and_keeps_users_to_their_subjects(
    stack: Stack,
) -> None:
    var = stack.config.var_dir
    mode = stat.S_IMODE((var / "nats-passwords.json").stat().st_mode)
    assert mode == 0o600, oct(mode)
    # Made once: a restart finds the same passwords (the services' streams stay theirs).
    assert local_nats_passwords(var) == local_nats_passwords(var)

    async def check() -> None:
        url = stack.config.nats_url
        with pytest.raises(NatsError, match="Authorization Violation"):
            await nats.connect(url, allow_reconnect=False, connect_timeout=5)
        with pytest.raises(NatsError, match="Authorization Violation"):
            await nats.connect(
                url, user="incidents", password="guessed", allow_reconnect=False, connect_timeout=5
            )
        clients = []
        try:
            incidents, inc_denials = await _as(stack, "incidents")
            resources, res_denials = await _as(stack, "resources")
            devices, dev_denials = await _as(stack, "devices")
            gateway, gw_denials = await _as(stack, "gateway")
            clients = [incidents, resources, devices, gateway]
            # Each its own facts (controls: the check can pass a publish) ...
            assert await _published(incidents, inc_denials, "icc.incident.created")
            assert await _published(resources, res_denials, "icc.unit.status.U-1")
            assert await _published(devices, dev_denials, "icc.unit.position.U-1")
            # ... and nobody else's.
            assert not await _published(resources, res_denials, "icc.incident.created")
            assert not await _published(incidents, inc_denials, "icc.dispatch.assigned")
            assert not await _published(devices, dev_denials, "icc.unit.status.U-1")
            assert not await _published(devices, dev_denials, "icc.incident.created")
            assert not await _published(gateway, gw_denials, "icc.incident.created")
            # A device reads nothing: a subscription anywhere is refused.
            await devices.subscribe("icc.incident.>")
            await flush(devices)
            assert any("subscription" in d.lower() for d in dev_denials.seen), dev_denials.seen
        finally:
            for client in clients:
                await client.close()

    asyncio.run(asyncio.wait_for(check(), timeout=60))


def test_icc_dlq_reads_the_local_bus_as_ops(stack: Stack) -> None:
    """`icc dlq` finds the bus and the `ops` user's password where `icc run` left them."""
    stack.write_endpoints()
    shown = subprocess.run(
        [sys.executable, "-m", "icc_cli.main", "dlq", "list"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("ICC_NATS_")},
            "ICC_VAR_DIR": str(stack.config.var_dir),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "No dead letters." in shown.stdout
