"""A small read-only HTTP endpoint over the store, for the dispatcher screen's timeline.

`GET /incidents/{id}/waterfall` answers an incident's timeline as JSON
(`icc_tracesink.timeline`): its spans grouped by the step of the incident's life, without
the screen's own reads; `?reads=1` shows them too. `GET /healthz` says the sink is up. The
standard library's threading server is enough: a supervisor opening a timeline now and
then.
"""

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from icc_tracesink.store import SpanStore, StoreMissing
from icc_tracesink.timeline import Timeline, load


def waterfall_json(db_path: Path, incident_id: str, *, reads: bool = False) -> dict[str, Any]:
    try:
        store = SpanStore.open_readonly(db_path)
    except StoreMissing:
        return Timeline(incident_id, (), (), 0).to_json()
    try:
        return load(store, incident_id, reads=reads).to_json()
    finally:
        store.close()


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
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if parts == ["healthz"]:  # for `icc status` and container probes
                self._send(HTTPStatus.OK, {"status": "ok"})
                return
            if len(parts) == 3 and parts[0] == "incidents" and parts[2] == "waterfall":
                incident_id = parts[1].removeprefix("incidents%2F")
                reads = parse_qs(url.query).get("reads", ["0"])[-1] in ("1", "true")
                self._send(HTTPStatus.OK, waterfall_json(db_path, incident_id, reads=reads))
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
