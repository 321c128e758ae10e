"""A service process: telemetry, uvloop, run until SIGINT/SIGTERM, stop in order."""

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

import uvloop

from icc_kernel.settings import SettingError
from icc_rpc.convert import token_key_from_env, use_token_key
from icc_telemetry import TelemetryConfig, setup_telemetry


class Stoppable(Protocol):
    @property
    def port(self) -> int: ...

    async def stop(self) -> None: ...


async def serve_until_signalled(start: Callable[[], Awaitable[Stoppable]], name: str) -> None:
    log = logging.getLogger(name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = await start()
    log.info(f"{name} ready", extra={"port": running.port})
    await stop.wait()
    log.info(f"{name} stopping")
    await running.stop()


def run_service(
    name: str,
    start: Callable[[], Awaitable[Stoppable]],
    address_variable: str,
    *,
    signs_tokens: bool = False,
) -> None:
    """Entry point of a service's console script. A service that `signs_tokens` (page
    tokens, cursors) reads its key from `ICC_TOKEN_KEY` first, and does not start without
    one outside a local environment (`icc_rpc.convert.token_key_from_env`)."""
    if signs_tokens:
        try:
            use_token_key(token_key_from_env(os.environ))
        except ValueError as exc:
            print(f"icc-{name}: {exc}.", file=sys.stderr)
            sys.exit(2)
    try:
        telemetry = setup_telemetry(TelemetryConfig.from_env(name))
    except SettingError as exc:
        print(f"icc-{name}: {exc}.", file=sys.stderr)
        sys.exit(2)
    except (OSError, ValueError) as exc:
        # A bad or taken ICC_METRICS_PORT: say which variable, as for the gRPC address.
        print(
            f"icc-{name}: {exc}. Set ICC_METRICS_PORT to a free port or unset it.", file=sys.stderr
        )
        sys.exit(2)
    try:
        uvloop.run(serve_until_signalled(start, name))
    except SettingError as exc:
        print(f"icc-{name}: {exc}.", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        logging.getLogger(name).error("cannot start: %s", exc)
        advice = f" Set {address_variable} to a free address." if "listen" in str(exc) else ""
        print(f"icc-{name}: {exc}.{advice}", file=sys.stderr)
        sys.exit(2)
    finally:
        telemetry.shutdown()
