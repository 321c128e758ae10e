"""Pytest fixtures (registered as the `icc` pytest plugin)."""

import asyncio
import gc
import inspect
import os
import signal
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from types import FrameType

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.engine import make_url

from icc_telemetry import TelemetryConfig, setup_telemetry
from icc_testing.metrics import RecordedMetrics, delta_reader
from icc_testing.nats_server import NatsServer
from icc_testing.pki import Pki

_SPANS = InMemorySpanExporter()
_METRICS = delta_reader()


_EXIT_STATUS = pytest.StashKey[int]()
_TASKS_BEFORE_TIMEOUT_S = 5.0


def _awaited_frames(coro: object) -> Iterator[FrameType]:
    """Frames down a chain of awaits, through async generators (fixtures), which
    `Task.print_stack` does not follow."""
    seen = 0
    while coro is not None and seen < 50:
        seen += 1
        frame = next(
            (getattr(coro, a) for a in ("cr_frame", "ag_frame", "gi_frame") if hasattr(coro, a)),
            None,
        )
        if frame is not None:
            yield frame
        nxt = next(
            (
                getattr(coro, a)
                for a in ("cr_await", "ag_await", "gi_yieldfrom")
                if hasattr(coro, a)
            ),
            None,
        )
        if nxt is None and type(coro).__name__ in (
            "async_generator_asend",
            "async_generator_athrow",
        ):
            # The awaitable of `agen.__anext__()` only refers to its generator.
            nxt = next((r for r in gc.get_referents(coro) if inspect.isasyncgen(r)), None)
        coro = nxt


def _print_tasks(signum: int, frame: object) -> None:
    """Where each asyncio task of the running test waits (pytest-timeout shows threads only)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    print("icc: the test is about to time out; its asyncio tasks:", file=sys.stderr)
    for task in asyncio.all_tasks(loop):
        print(f"- {task.get_name()}:", file=sys.stderr)
        for f in _awaited_frames(task.get_coro()):
            print(f"    {f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}", file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    # The whole item, as pytest-timeout counts it: a fixture's set-up can hang too.
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0] if marker and marker.args else item.config.getini("timeout") or 0)
    in_main = threading.current_thread() is threading.main_thread()
    if limit <= _TASKS_BEFORE_TIMEOUT_S or not in_main:
        return (yield)
    previous = signal.signal(signal.SIGUSR1, _print_tasks)
    timer = threading.Timer(limit - _TASKS_BEFORE_TIMEOUT_S, os.kill, (os.getpid(), signal.SIGUSR1))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Refuses a run in which a test file was collected as another file's module.

    Every `tests/` folder is a package named `tests`, so two test files of one name in two
    packages share a module name; pytest's importlib mode then hands the second path the
    first module, and the second file's tests silently never run.
    """
    shadowed = sorted(
        {
            f"{item.path} ran as {module.__file__}"
            for item in items
            if isinstance(item, pytest.Function)
            and (module := item.module) is not None
            and module.__file__ is not None
            and Path(module.__file__).resolve() != item.path.resolve()
        }
    )
    if shadowed:
        raise pytest.UsageError(
            "test files shadowed by another of the same name (rename one):\n  "
            + "\n  ".join(shadowed)
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Ends the run, report printed, even when an interrupted test left worker threads behind.

    pytest-timeout interrupts a test without running the rest of its body, so the database
    connections it opened are never closed; aiosqlite's worker threads are not daemons, and the
    interpreter would wait for them at exit for ever instead of reporting the failure.
    """
    stuck = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and not t.daemon
    ]
    if not stuck:
        return
    print(f"icc: {len(stuck)} threads left by interrupted tests; exiting", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(config.stash.get(_EXIT_STATUS, 1))


@pytest.fixture(scope="session", autouse=True)
def _telemetry() -> Iterator[None]:
    """The real SDK, once per test process, keeping finished spans and metrics in memory."""
    telemetry = setup_telemetry(
        TelemetryConfig(service_name="tests"),
        span_processors=[SimpleSpanProcessor(_SPANS)],
        metric_readers=[_METRICS],
        configure_logging=False,
    )
    yield
    telemetry.shutdown()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The session's CA and certificates (`icc_testing.pki`)."""
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Spans finished during this test."""
    _SPANS.clear()
    return _SPANS


@pytest.fixture
def metrics() -> RecordedMetrics:
    """Metrics recorded during this test (all services in the test process share them)."""
    return RecordedMetrics(_METRICS)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A private JetStream server for one test."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        yield nc
    finally:
        await nc.close()


def postgres_url() -> str | None:
    return os.environ.get("ICC_TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, and PostgreSQL when `ICC_TEST_POSTGRES_URL` is set.

    For PostgreSQL a new database is created per test and dropped afterwards.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip("ICC_TEST_POSTGRES_URL not set")
    name = f"icc_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(base_url: str, sql: str) -> None:
    import asyncpg

    url = make_url(base_url)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
