"""A small read-only HTTP endpoint over the store, for the dispatcher screen's timeline.

`GET /incidents/{id}/waterfall` answers an incident's timeline as JSON
(`icc_tracesink.timeline`): its spans grouped by the step of the incident's life, without
the screen's own reads; `?reads=1` shows them too. `GET /healthz` says the sink is up. The
standard library's threading server is enough: a supervisor opening a timeline now and
then.

HTTPS only, and a timeline only to a client certificate from ICC's CA that names the
gateway (which shows it to supervisors) or an on-call engineer (`icc trace --sink`): span
names and incident ids say what happened where. A client without a certificate may ask
`/healthz` only (probes), and is answered 401 elsewhere; another identity 403.
"""

import json
import ssl
import sys
import threading
from dataclasses import dataclass
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


# Who may read timelines: the kinds of `spiffe://icc.hcmc/<kind>/<name>`, the URI SAN of
# every ICC certificate (icc_pki.identity; the sink depends on no shared library).
SPIFFE_PREFIX = "spiffe://icc.hcmc/"
READERS = frozenset({"gateway", "engineer"})


@dataclass(frozen=True)
class QueryTls:
    """The CA that issues the clients' certificates, and the sink's own."""

    ca: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        context.load_verify_locations(cafile=self.ca)
        # Optional so that probes reach /healthz without one; a certificate that is shown
        # is still verified against the CA (another CA's or an expired one ends the
        # handshake), and every other path requires one (`reader_of`).
        context.verify_mode = ssl.CERT_OPTIONAL
        return context


def reader_of(peer: dict[str, Any] | None) -> tuple[HTTPStatus, str]:
    """OK and the SPIFFE ID of a verified certificate that may read timelines; else the
    status that refuses the client and why."""
    if not peer:
        return HTTPStatus.UNAUTHORIZED, "a client certificate from ICC's CA is required"
    uris = [v for k, v in peer.get("subjectAltName", ()) if k == "URI"]
    kind = uris[0].removeprefix(SPIFFE_PREFIX).split("/")[0] if len(uris) == 1 else ""
    if len(uris) != 1 or not uris[0].startswith(SPIFFE_PREFIX) or kind not in READERS:
        return HTTPStatus.FORBIDDEN, "timelines are for the gateway and on-call engineers"
    return HTTPStatus.OK, uris[0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that fails the handshake (no CA of ours, expired) or goes away is
        refused quietly; anything else is a fault worth its traceback."""
        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class QueryServer:
    """Serves in a daemon thread beside the receiver's event loop."""

    def __init__(self, address: str, db_path: Path, tls: QueryTls) -> None:
        host, _, port = address.rpartition(":")
        handler = _handler(db_path)
        self._server = _Server((host or "127.0.0.1", int(port)), handler)
        # The handshake happens in each request's thread, at its first read, so a client
        # that never finishes one holds only its own thread.
        self._server.socket = tls.context().wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
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
        # Seconds a client may take to finish its handshake and request (one thread each).
        timeout = 30

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            if parts == ["healthz"]:  # for `icc status` and container probes
                self._send(HTTPStatus.OK, {"status": "ok"})
                return
            status, why = reader_of(self._peer())
            if status is not HTTPStatus.OK:
                self._send(status, {"error": why})
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

        def _peer(self) -> dict[str, Any] | None:
            connection = self.connection
            if not isinstance(connection, ssl.SSLSocket):
                return None
            return connection.getpeercert() or None

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
