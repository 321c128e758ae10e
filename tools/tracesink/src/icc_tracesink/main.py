"""`icc-tracesink`: receive OTLP/gRPC on `ICC_TRACESINK_ADDR`, keep spans in `ICC_TRACESINK_DB`
(for `ICC_TRACESINK_RETENTION_H` hours, at most about `ICC_TRACESINK_MAX_SPANS`), answer
timelines as JSON on `ICC_TRACESINK_QUERY_ADDR` (empty: no query endpoint) over mutual TLS
with `ICC_TLS_CA`/`ICC_TLS_CERT`/`ICC_TLS_KEY` (unset: `icc run`'s `$ICC_VAR_DIR/pki/`
files; without any, the query endpoint stays closed)."""

import asyncio
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from icc_tracesink.query import QueryServer, QueryTls
from icc_tracesink.receiver import start_receiver
from icc_tracesink.store import SpanStore, default_db_path

log = logging.getLogger("icc_tracesink")
PRUNE_EVERY_S = 600


@dataclass(frozen=True)
class Config:
    address: str
    db_path: Path
    query_address: str = ""
    # Traces older than this are forgotten (at start, then every 10 minutes): a system
    # left running with the simulator would otherwise grow the file without end.
    retention_h: float = 72.0
    # And the oldest traces beyond this many spans (0: no bound but age): a deployment
    # receives every service's spans, so age alone does not bound the file.
    max_spans: int = 2_000_000
    # The query endpoint's certificate and the CA its clients' come from.
    query_tls: QueryTls | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            address=env.get("ICC_TRACESINK_ADDR", "127.0.0.1:4317"),
            db_path=Path(env["ICC_TRACESINK_DB"])
            if env.get("ICC_TRACESINK_DB")
            else default_db_path(env),
            query_address=env.get("ICC_TRACESINK_QUERY_ADDR", "127.0.0.1:4320"),
            retention_h=_positive(env, "ICC_TRACESINK_RETENTION_H", 72.0, float),
            max_spans=_positive(env, "ICC_TRACESINK_MAX_SPANS", 2_000_000, int),
            query_tls=_query_tls(env),
        )


N = TypeVar("N", int, float)


def _positive(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N]) -> N:
    """A number of 0 or more, else a start that fails naming `name`. The sink's image holds
    none of the shared libraries, so not `icc_kernel.settings`: the same rule, kept here."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {raw[:40]!r}") from None
    if not value >= 0:
        raise ValueError(f"{name}: at least 0, got {raw[:40]}")
    return value


def _query_tls(env: Mapping[str, str]) -> QueryTls | None:
    """`ICC_TLS_*` when set, else the files `icc run` made for the sink, if it did."""
    pki = Path(env.get("ICC_VAR_DIR", "var")) / "pki"
    tls = QueryTls(
        Path(env.get("ICC_TLS_CA") or pki / "ca.crt"),
        Path(env.get("ICC_TLS_CERT") or pki / "tracesink.crt"),
        Path(env.get("ICC_TLS_KEY") or pki / "tracesink.key"),
    )
    return tls if all(p.exists() for p in (tls.ca, tls.cert, tls.key)) else None


async def serve(config: Config) -> None:
    """Run until SIGINT or SIGTERM, then stop receiving, finish the writes, close the file."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = SpanStore.open(config.db_path)
    try:
        receiver = await start_receiver(config.address, store)
        host = config.address.rpartition(":")[0]
        log.info("receiving OTLP/gRPC on %s:%d, spans into %s", host, receiver.port, config.db_path)
        query = None
        if config.query_address and config.query_tls is None:
            # Timelines say what happened to which incident: never to anonymous callers.
            log.warning(
                "no TLS files (ICC_TLS_CA, ICC_TLS_CERT, ICC_TLS_KEY): the query endpoint "
                "%s stays closed",
                config.query_address,
            )
        elif config.query_address and config.query_tls is not None:
            query = QueryServer(config.query_address, config.db_path, config.query_tls)
            query.start()
            log.info(
                "waterfalls as JSON on https://%s:%d/incidents/ID/waterfall (mutual TLS)",
                host,
                query.port,
            )
        pruning = asyncio.create_task(_prune_now_and_then(store, config))
        await stop.wait()
        pruning.cancel()
        if query is not None:
            query.stop()
        await receiver.stop()
    finally:
        store.close()
    log.info("stopped")


async def _prune_now_and_then(store: SpanStore, config: Config) -> None:
    while True:
        try:
            gone = await asyncio.to_thread(_prune, store, config)
            if gone:
                log.info(
                    "forgot %d spans (older than %g h, or beyond the newest %d)",
                    gone,
                    config.retention_h,
                    config.max_spans,
                )
        except sqlite3.Error as exc:
            log.warning("could not forget old spans: %s", exc)
        await asyncio.sleep(PRUNE_EVERY_S)


def _prune(store: SpanStore, config: Config) -> int:
    cutoff = time.time_ns() - int(config.retention_h * 3600e9)
    if config.max_spans > 0:
        cutoff = max(cutoff, store.cutoff_keeping(config.max_spans) or 0)
    return store.prune(cutoff)


def run() -> None:
    """Entry point of the `icc-tracesink` script."""
    logging.basicConfig(
        level=os.environ.get("ICC_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s icc-tracesink: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = Config.from_env()
    except ValueError as exc:
        print(f"icc-tracesink: {exc}.", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"icc-tracesink: {exc}. Set ICC_TRACESINK_ADDR to a free address.", file=sys.stderr)
        sys.exit(2)
    except sqlite3.Error as exc:
        print(f"icc-tracesink: {config.db_path}: {exc}. Check ICC_TRACESINK_DB.", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
