"""A small read-only HTTP endpoint over the store, for the dispatcher screen's timeline.

`GET /incidents/{id}/waterfall` answers the same rows as `icc trace` as JSON. The standard
library's threading server is enough: a supervisor opening a timeline now and then.
"""

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from icc_tracesink.store import SpanStore, StoreMissing
from icc_tracesink.waterfall import rows

# An incident's traces are tens of spans; this bounds a pathological one.
MAX_SPANS = 5000


def waterfall_json(db_path: Path, incident_id: str) -> dict[str, Any]:
    try:
        store = SpanStore.open_readonly(db_path)
    except StoreMissing:
        return {"incident": incident_id, "traces": [], "spans": []}
    try:
        traces = store.traces_of_incident(incident_id)
        spans = store.spans_of(traces)[:MAX_SPANS]
    finally:
        store.close()
    return {
        "incident": incident_id,
        "traces": traces,
        "spans": [
            {
                "trace_id": r.trace_id,
                "service": r.service,
                "operation": r.operation,
                "start_ms": round(r.offset_ms, 3),
                "duration_ms": round(r.duration_ms, 3),
                "depth": r.depth,
                "error": r.error,
            }
            for r in rows(spans)
        ],
    }


class QueryServer:
    """Serves in a daemon thread beside the receiver's event loop."""

    def __init__(self, address: str, db_path: Path) -> None:
        host, _, port = address.rpartition(":")
        handler = _handler(db_path)
        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="trace-query", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(db_path: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["healthz"]:  # for `icc status` and container probes
                self._send(HTTPStatus.OK, {"status": "ok"})
                return
            if len(parts) == 3 and parts[0] == "incidents" and parts[2] == "waterfall":
                incident_id = parts[1].removeprefix("incidents%2F")
                self._send(HTTPStatus.OK, waterfall_json(db_path, incident_id))
                return
            self._send(
                HTTPStatus.NOT_FOUND,
                {"error": "not found: ask GET /incidents/{id}/waterfall"},
            )

        def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the sink's own log says enough; request lines add nothing

    return Handler
