"""Wiring of the gateway: config, accounts, bus, picture, HTTP server, partner listener,
shutdown.

`python -m icc_gateway.main` serves on `ICC_GATEWAY_ADDR`, and partners' EIDO WebSocket on
`ICC_GATEWAY_PARTNER_ADDR` when set.
"""

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path

import uvicorn
from nats.aio.client import Client
from starlette.types import ASGIApp
from websockets.asyncio.server import Server as WebSocketServer

from icc_bus import connect
from icc_gateway.accounts import Accounts
from icc_gateway.app import create_app
from icc_gateway.catalog import TypeCatalog
from icc_gateway.clients import Services
from icc_gateway.config import Config
from icc_gateway.context import Gateway
from icc_gateway.domain.kpis import ResponseWindow
from icc_gateway.domain.picture import Picture
from icc_gateway.feed import PictureFeed
from icc_gateway.partners import start_partners
from icc_gateway.public_warnings import PublicWarnings
from icc_gateway.stream import Hub
from icc_gateway.throttle import LoginThrottle
from icc_gateway.traces import TraceSink
from icc_rpc.runtime import run_service
from icc_storage import Database, upgrade

log = logging.getLogger("icc_gateway")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the process's (run_service) stop it, in
    order, through `Running.stop`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen(address: str, host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, so that asyncio turns Nagle's algorithm off on each accepted connection
    # (it does so only for sockets whose protocol says TCP): uvicorn writes a response's
    # headers and its body apart, and with Nagle on, the body of every answer but the
    # first on a kept-alive connection waited for the client's delayed ACK, 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {address}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


@dataclass
class Running:
    gateway: Gateway
    server: uvicorn.Server
    serving: "asyncio.Task[None]"
    port: int
    # Everything else the gateway started, closed in the reverse order.
    resources: contextlib.AsyncExitStack
    # The partner listener's port, when it is served.
    partner_port: int | None = None

    @property
    def loaded(self) -> asyncio.Event:
        """Set once the picture is read (`/healthz` answers 200 from then on)."""
        return self.gateway.feed.loaded

    async def stop(self) -> None:
        # Screens' streams end first: the server then has no open response to wait for.
        self.gateway.hub.close()
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.serving, timeout=10)
        await self.resources.aclose()


async def _drain(nc: Client) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


async def _close_partners(server: WebSocketServer) -> None:
    server.close()
    await server.wait_closed()


async def _database(config: Config, stack: contextlib.AsyncExitStack) -> Database:
    """The gateway's own database (accounts, sessions, failed sign-ins), migrated."""
    db = Database(config.database_url)
    stack.push_async_callback(db.dispose)
    await upgrade(db, Path(str(resources.files("icc_gateway") / "migrations")))
    return db


async def _accounts(config: Config, db: Database) -> Accounts:
    """The accounts (the demo ones created if asked)."""
    accounts = Accounts(db, session_ttl=timedelta(hours=config.session_hours))
    if config.demo_users:
        created = await accounts.ensure_demo_users()
        if created:
            # Never the password itself: README.md says what it is.
            log.info(
                "demo accounts created (dev only; password in README.md; "
                "ICC_GATEWAY_DEMO_USERS=0 turns them off)",
                extra={"users": created},
            )
    elif not await accounts.count():
        log.warning(
            "no accounts: nobody can sign in; add one with "
            "`python -m icc_gateway.users add NAME --role dispatcher`"
        )
    return accounts


async def _serve(
    app: ASGIApp, sock: socket.socket, address: str
) -> tuple[_Server, "asyncio.Task[None]"]:
    """uvicorn serving `app` on `sock`, once it has started."""
    server = _Server(
        uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            server_header=False,
            # The client's address and scheme from X-Forwarded-* only through the
            # trusted proxies the application itself is given (app.py): uvicorn's own
            # default believes any local caller's headers.
            proxy_headers=False,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="gateway-http")
    while not server.started:
        if serving.done():
            serving.result()  # raises what stopped it
            raise OSError(f"the HTTP server on {address} stopped at start-up")
        await asyncio.sleep(0.01)
    return server, serving


async def start(config: Config) -> Running:
    host, port = config.host_port
    async with contextlib.AsyncExitStack() as stack:
        db = await _database(config, stack)
        accounts = await _accounts(config, db)
        nc = await connect(config.bus, name="icc-gateway")
        stack.push_async_callback(_drain, nc)
        if config.tls is None:
            raise SystemExit("the gateway needs its certificate: set ICC_TLS_* (see README)")
        services = Services(
            config.incidents_target, config.resources_target, config.dispatch_target, config.tls
        )
        stack.push_async_callback(services.close)
        settings = config.picture
        base = settings.cursor_base
        if base is None:
            # Random, below 2**50: ids stay exact in JavaScript (2**53) for ages.
            base = secrets.randbelow(2**50)
        picture = Picture(
            ring_size=settings.ring_size, cursor=base, kpis=ResponseWindow(config.kpis)
        )
        hub = Hub(picture, queue_size=settings.client_queue)
        feed = PictureFeed(nc, services, picture, hub.publish, settings)
        feed.start()
        stack.push_async_callback(feed.stop)
        traces = TraceSink(config.tracesink_query_url, tls=config.tls)
        stack.push_async_callback(traces.close)
        catalog = TypeCatalog(services)
        catalog.start()
        stack.push_async_callback(catalog.stop)
        gateway = Gateway(
            config,
            accounts,
            services,
            picture,
            hub,
            feed,
            traces,
            LoginThrottle(db),
            catalog,
            PublicWarnings(db),
        )
        partner_port = None
        if config.partner_address:
            partners, partner_port = await start_partners(
                config.partner_address, services, config.tls
            )
            stack.push_async_callback(_close_partners, partners)
        sock = _listen(config.address, host, port)
        stack.callback(sock.close)
        server, serving = await _serve(create_app(gateway), sock, config.address)
        bound = sock.getsockname()[1]
        log.info("gateway listening", extra={"address": f"{host}:{bound}"})
        # Started: the stack's closing now belongs to `Running.stop`.
        return Running(gateway, server, serving, bound, stack.pop_all(), partner_port)
    raise AssertionError("unreachable")


def run() -> None:
    run_service("gateway", lambda: start(Config.from_env()), "ICC_GATEWAY_ADDR")


if __name__ == "__main__":
    run()
