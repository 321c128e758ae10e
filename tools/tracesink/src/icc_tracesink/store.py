"""Spans in one SQLite file (WAL: `icc trace` reads while the sink writes)."""

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from icc_tracesink.model import Event, Link, Span

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status_code TEXT NOT NULL,
    status_message TEXT NOT NULL,
    attributes TEXT NOT NULL,
    events TEXT NOT NULL,
    links TEXT NOT NULL,
    incident_id TEXT,
    unit_id TEXT,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_incident ON spans (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS spans_unit ON spans (unit_id) WHERE unit_id IS NOT NULL;
-- The newest spans first, for the bound on how many are kept.
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
-- The links again, one row each, so that both directions of a link are an index lookup.
CREATE TABLE IF NOT EXISTS span_links (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    linked_trace_id TEXT NOT NULL,
    linked_span_id TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id, linked_trace_id, linked_span_id)
);
CREATE INDEX IF NOT EXISTS span_links_linked ON span_links (linked_trace_id);
"""

_COLUMNS = (
    "trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, "
    "status_code, status_message, attributes, events, links, incident_id, unit_id"
)


def default_db_path(env: Mapping[str, str] = os.environ) -> Path:
    """Where the sink writes and `icc trace` reads unless told otherwise."""
    return Path(env.get("ICC_VAR_DIR", "var")) / "traces.db"


class StoreMissing(Exception):
    """The database file does not exist (the sink has never run with this path)."""


class SpanStore:
    """One connection. Writes are serialised by a lock, so any one thread may call `insert`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> "SpanStore":
        """Open for writing, creating the file and schema when missing."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the receiver writes from its writer thread, not the opener's.
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # A lost last batch after a power cut is acceptable for local traces; fsyncs are not.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        return cls(conn)

    @classmethod
    def open_readonly(cls, path: Path) -> "SpanStore":
        """Open an existing file for queries; never creates it or its schema."""
        if not path.is_file():
            raise StoreMissing(str(path))
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def insert(self, spans: Sequence[Span]) -> None:
        """Store a batch in one transaction; a span sent again (exporter retry) replaces itself."""
        if not spans:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO spans ({_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_row(s) for s in spans],
                )
                self._conn.executemany(
                    "INSERT OR IGNORE INTO span_links VALUES (?, ?, ?, ?)",
                    [
                        (s.trace_id, s.span_id, link.trace_id, link.span_id)
                        for s in spans
                        for link in s.links
                    ],
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def prune(self, older_than_ns: int) -> int:
        """Forget traces that started before `older_than_ns` (whole traces: a trace is
        kept or dropped with all its spans and links); returns how many spans went."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                old = "SELECT trace_id FROM spans GROUP BY trace_id HAVING MIN(start_ns) < ?"
                self._conn.execute(
                    f"DELETE FROM span_links WHERE trace_id IN ({old})", (older_than_ns,)
                )
                gone = self._conn.execute(
                    f"DELETE FROM spans WHERE trace_id IN ({old})", (older_than_ns,)
                ).rowcount
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return int(gone)

    def cutoff_keeping(self, newest: int) -> int | None:
        """A start time such that forgetting what started before it keeps at most about
        `newest` spans (whole traces go, so a few more may); None when there are fewer."""
        row = self._conn.execute(
            "SELECT start_ns FROM spans ORDER BY start_ns DESC LIMIT 1 OFFSET ?", (newest,)
        ).fetchone()
        return None if row is None else int(row[0]) + 1

    def traces_of_incident(self, incident_id: str) -> list[str]:
        """Traces with a span tagged with the incident, and traces one span link away from them.

        Links are followed at trace level and one hop only: a consumer's trace that links to
        the publishing trace belongs to the incident, but a batch span linking many incidents'
        traces must not pull all those incidents in. Only traces with stored spans are
        returned, earliest first.
        """
        rows = self._conn.execute(
            """
            WITH direct(trace_id) AS (
                SELECT DISTINCT trace_id FROM spans WHERE incident_id = ?
            ),
            related(trace_id) AS (
                SELECT trace_id FROM direct
                UNION
                SELECT l.linked_trace_id FROM span_links l JOIN direct d USING (trace_id)
                UNION
                SELECT l.trace_id FROM span_links l JOIN direct d ON l.linked_trace_id = d.trace_id
            )
            SELECT s.trace_id FROM spans s JOIN related r USING (trace_id)
            GROUP BY s.trace_id
            ORDER BY MIN(s.start_ns), s.trace_id
            """,
            (incident_id,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def spans_of(self, trace_ids: Iterable[str]) -> list[Span]:
        """Every stored span of these traces, by start time."""
        ids = sorted(set(trace_ids))
        if not ids:
            return []
        # json_each takes the ids as one parameter, whatever their number.
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM spans "
            "WHERE trace_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY start_ns, end_ns DESC, trace_id, span_id",
            (json.dumps(ids),),
        ).fetchall()
        return [_span(r) for r in rows]


def _row(s: Span) -> tuple[Any, ...]:
    return (
        s.trace_id,
        s.span_id,
        s.parent_span_id,
        s.service,
        s.name,
        s.kind,
        s.start_ns,
        s.end_ns,
        s.status_code,
        s.status_message,
        json.dumps(s.attributes, separators=(",", ":")),
        json.dumps([[e.name, e.time_ns, e.attributes] for e in s.events], separators=(",", ":")),
        json.dumps([[link.trace_id, link.span_id] for link in s.links]),
        s.incident_id,
        s.unit_id,
    )


def _span(r: tuple[Any, ...]) -> Span:
    return Span(
        trace_id=r[0],
        span_id=r[1],
        parent_span_id=r[2],
        service=r[3],
        name=r[4],
        kind=r[5],
        start_ns=r[6],
        end_ns=r[7],
        status_code=r[8],
        status_message=r[9],
        attributes=json.loads(r[10]),
        events=tuple(Event(name, t, attrs) for name, t, attrs in json.loads(r[11])),
        links=tuple(Link(t, s) for t, s in json.loads(r[12])),
    )
