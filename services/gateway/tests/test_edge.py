"""The gateway's HTTP edge against a real uvicorn and the real services: security headers
on every answer, cross-site changes refused, OPTIONS and other methods answered by what
the API document says, sign-in throttling, the session cookie's Secure flag, and the
client's address believed from a trusted proxy only."""

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from icc_gateway import main as gateway_main
from icc_gateway.security import CONTENT_SECURITY_POLICY

from .conftest import PASSWORD, Gateway, Services, gateway_config, incident_body, serving
from .test_api import error_of


@pytest_asyncio.fixture
async def proxied(services: Services, tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway behind a trusted proxy on 127.0.0.1 (it believes X-Forwarded-*)."""
    async with serving(gateway_config(services, tmp_path, trusted_proxies=("127.0.0.1",))) as gw:
        yield gw


def _secure_headers(reply: httpx.Response) -> None:
    headers = reply.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, reply.url
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"


async def test_every_answer_carries_the_security_headers(gateway: Gateway) -> None:
    client = await gateway.client("viewer")
    for path in ("/", "/app.js", "/trusted-types.js", "/healthz", "/nothing-here"):
        reply = await client.get(path)
        _secure_headers(reply)
        assert "strict-transport-security" not in reply.headers  # plain HTTP
    policy = (await client.get("/")).headers["content-security-policy"]
    for rule in (
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "require-trusted-types-for 'script'",
    ):
        assert rule in policy
    assert "unsafe" not in policy
    # The API's answers hold callers' details: never kept by a browser or a proxy.
    for path in ("/api/v1/picture", "/api/v1/session", "/api/v1/incidents/nope", "/api/nothing"):
        reply = await client.get(path)
        _secure_headers(reply)
        assert reply.headers["cache-control"] == "no-store", path
    # The docs page runs Swagger UI's one inline script by a nonce of its own.
    docs = await client.get("/api/docs")
    nonce = docs.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in docs.text
    assert docs.headers["x-frame-options"] == "DENY"


async def test_answers_are_not_held_back_by_nagles_algorithm(gateway: Gateway) -> None:
    """The listening socket says TCP and has Nagle's algorithm off, so asyncio turns it
    off on each accepted connection too: a response's body, written after its headers,
    leaves at once instead of waiting out the client's delayed ACK (40 ms an answer on a
    kept-alive connection)."""
    (listener,) = gateway.running.server.servers[0].sockets
    assert listener.proto == socket.IPPROTO_TCP
    assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_changes_from_another_site_are_refused(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    client = await gateway.client("dispatcher")
    own = gateway.url
    refused = await client.post(
        "/api/v1/incidents",
        json=incident_body("cross-1"),
        headers={"Origin": "http://evil.example"},
    )
    error = error_of(refused, 403, "permission_denied")
    assert "evil.example" in error["message"] and own in error["message"]
    _secure_headers(refused)
    assert any(r.message == "cross-site request refused" for r in caplog.records)
    for headers in (
        {"Origin": "null"},  # a sandboxed frame, a file
        {"Origin": own.replace("127.0.0.1", "localhost")},
        {"Origin": own.replace("http:", "ftp:")},
        {"Sec-Fetch-Site": "cross-site"},  # a browser that sent no Origin
        {"Sec-Fetch-Site": "same-site"},
    ):
        reply = await client.post("/api/v1/incidents", json=incident_body("x"), headers=headers)
        error_of(reply, 403, "permission_denied")
    # Signing out and in are changes too.
    error_of(
        await client.delete("/api/v1/session", headers={"Origin": "http://evil.example"}),
        403,
        "permission_denied",
    )
    assert (await client.get("/api/v1/session")).status_code == 200
    # The screen's own requests, an https page in front of a TLS proxy, and clients that
    # are no browser (no Origin, no Sec-Fetch-Site) go through; reads are never checked.
    for n, headers in enumerate(
        (
            {"Origin": own, "Sec-Fetch-Site": "same-origin"},
            {"Origin": own.replace("http:", "https:")},
            {},
        )
    ):
        reply = await client.post(
            "/api/v1/incidents", json=incident_body(f"own-{n}"), headers=headers
        )
        assert reply.status_code == 201, reply.text
    read = await client.get("/api/v1/picture", headers={"Origin": "http://evil.example"})
    assert read.status_code == 200


async def test_configured_origins_may_change_things(services: Services, tmp_path: Path) -> None:
    config = gateway_config(services, tmp_path, allowed_origins=("https://icc.example",))
    async with serving(config) as gw:
        client = await gw.client("dispatcher")
        body = incident_body("allowed-1")
        allowed = await client.post(
            "/api/v1/incidents", json=body, headers={"Origin": "https://ICC.example:443"}
        )
        assert allowed.status_code == 201, allowed.text
        other = await client.post(
            "/api/v1/incidents", json=body, headers={"Origin": "https://icc.example.evil"}
        )
        error_of(other, 403, "permission_denied")


async def test_options_and_other_methods_say_what_the_document_does(gateway: Gateway) -> None:
    client = await gateway.client("viewer")
    for path, allow in (
        ("/api/v1/incidents", "GET, OPTIONS, POST"),
        ("/api/v1/session", "DELETE, GET, OPTIONS, POST"),
        ("/api/v1/incidents/abc/notes", "OPTIONS, POST"),
        ("/api/v1/picture", "GET, OPTIONS"),
    ):
        options = await client.options(path)
        assert options.status_code == 204 and options.headers["allow"] == allow, path
        assert "access-control-allow-origin" not in options.headers
        other = await client.put(path, json={})
        error = error_of(other, 405, "method_not_allowed")
        assert other.headers["allow"] == allow and allow in error["message"]
    error_of(await client.options("/api/v1/no-such-thing"), 404, "not_found")


async def test_wrong_passwords_are_throttled(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = await gateway.client()
    wrong = {"username": "dispatcher", "password": "not-the-password-42"}
    answers = [(await client.post("/api/v1/session", json=wrong)) for _ in range(25)]
    statuses = [a.status_code for a in answers]
    # Four free failures; the fifth locks the account, and it stays locked.
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}, statuses
    locked = answers[4]
    error = error_of(locked, 429, "resource_exhausted")
    assert 25 <= int(locked.headers["retry-after"]) <= 30
    assert "try again in" in error["message"]
    # Not even the right password gets in while the lock lasts.
    right = await client.post(
        "/api/v1/session", json={"username": "dispatcher", "password": PASSWORD}
    )
    error_of(right, 429, "resource_exhausted")
    # Every failure and refusal is in the log: the account, never the password.
    logged = [r for r in caplog.records if r.name == "icc_gateway.routes.session"]
    assert len(logged) == 26
    assert all(getattr(r, "user", None) == "dispatcher" for r in logged)
    assert all("not-the-password-42" not in str(r.__dict__) for r in caplog.records)
    assert all(PASSWORD not in str(r.__dict__) for r in logged)
    # Another account from the same address still may (the address has 5 of its 10).
    other = await client.post("/api/v1/session", json={"username": "viewer", "password": PASSWORD})
    assert other.status_code == 200


async def test_an_address_is_throttled_across_accounts(
    proxied: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Guesses spread over many names from one address: the address is locked after 10.
    Behind a trusted proxy, the address is the one it names in X-Forwarded-For."""
    client = await proxied.client()

    def attempt(name: str, address: str, password: str = "wrong-password") -> Any:
        return client.post(
            "/api/v1/session",
            json={"username": name, "password": password},
            headers={"X-Forwarded-For": address},
        )

    statuses = [(await attempt(f"guess-{n}", "203.0.113.7")).status_code for n in range(12)]
    assert statuses == [401] * 9 + [429] * 3, statuses
    # Unknown names are logged by a digest, not as typed (a name may be a password).
    unknown = [r for r in caplog.records if getattr(r, "unknown_user", None)]
    assert unknown and all(len(r.unknown_user) == 12 for r in unknown)
    assert all(getattr(r, "address", None) == "203.0.113.7" for r in unknown)
    # Another address is not locked, and signs in.
    ok = await attempt("supervisor", "198.51.100.9", PASSWORD)
    assert ok.status_code == 200, ok.text


async def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(
    gateway: Gateway,
) -> None:
    """No trusted proxy (the default): X-Forwarded-For is anyone's header, and changing
    it escapes no lock."""
    client = await gateway.client()
    statuses = [
        (
            await client.post(
                "/api/v1/session",
                json={"username": f"spray-{n}", "password": "wrong-password"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        ).status_code
        for n in range(11)
    ]
    assert statuses[-1] == 429, statuses


async def test_the_session_cookie_is_secure_over_https(gateway: Gateway, proxied: Gateway) -> None:
    body = {"username": "viewer", "password": PASSWORD}
    plain = await (await gateway.client()).post("/api/v1/session", json=body)
    cookie = plain.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    # A trusted proxy that ended TLS says so: Secure, and HSTS on every answer.
    client = await proxied.client()
    over_tls = await client.post(
        "/api/v1/session", json=body, headers={"X-Forwarded-Proto": "https"}
    )
    assert "secure" in over_tls.headers["set-cookie"].lower()
    assert over_tls.headers["strict-transport-security"].startswith("max-age=")
    # From anyone else, the header is not believed.
    spoofed = await (await gateway.client()).post(
        "/api/v1/session", json=body, headers={"X-Forwarded-Proto": "https"}
    )
    assert "secure" not in spoofed.headers["set-cookie"].lower()
    assert "strict-transport-security" not in spoofed.headers


async def test_cookie_secure_setting_wins(services: Services, tmp_path: Path) -> None:
    for setting, secure in ((True, True), (False, False)):
        config = gateway_config(services, tmp_path, cookie_secure=setting)
        running = await gateway_main.start(config)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as client:
                reply = await client.post(
                    "/api/v1/session", json={"username": "viewer", "password": PASSWORD}
                )
                assert ("secure" in reply.headers["set-cookie"].lower()) is secure
        finally:
            await running.stop()
