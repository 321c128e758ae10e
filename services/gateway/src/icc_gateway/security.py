"""The HTTP edge's protections, on every request and response of the gateway.

- Cross-site requests: a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin`
  is not the gateway's own (nor one of `ICC_GATEWAY_ALLOWED_ORIGINS`), or that a browser
  marks as cross-site (`Sec-Fetch-Site`), is refused with 403 before any route sees it.
  SameSite=Strict on the session cookie is the browser's half; this is the server's.
- Security headers on every response: a strict Content-Security-Policy (scripts, styles
  and everything else from the gateway itself, no inline script or style, no eval,
  Trusted Types for every HTML sink, never framed), nosniff, no referrer, no powerful
  features, `Cache-Control: no-store` on the API (its answers hold callers' details), and
  HSTS when the request came over HTTPS (directly, or through a trusted proxy that says so).

A request without `Origin` or `Sec-Fetch-Site` is no browser's (curl, the simulator, a
partner's client): it carries no ambient cookie by accident, so it is let through.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from icc_gateway.schemas import ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}

# The screen's own files only. `data:` images: the page's empty favicon and Leaflet's
# blank tile. Leaflet places and sizes its elements through the CSSOM (element.style),
# which `style-src` does not govern; a style *attribute* or <style> would be refused.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "require-trusted-types-for 'script'",
        "trusted-types default",
    )
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "permissions-policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
        "accelerometer=(), gyroscope=(), magnetometer=(), display-capture=()"
    ),
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=31536000"


def _netloc(scheme: str, netloc: str) -> str:
    """`host[:port]`, lower-case, without the scheme's default port."""
    netloc = netloc.lower()
    default = _DEFAULT_PORTS.get(scheme)
    return netloc.removesuffix(f":{default}") if default else netloc


def normal_origin(origin: str) -> str | None:
    """`scheme://host[:port]` as browsers send it, or None when `origin` is not one."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{_netloc(parts.scheme, parts.netloc)}"


@dataclass(frozen=True)
class Origins:
    """Who may change things: the gateway's own origin, and those configured."""

    allowed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, origins: Iterable[str]) -> "Origins":
        return cls(frozenset(o for o in map(normal_origin, origins) if o is not None))

    def refusal(self, scope: Scope) -> str | None:
        """Why this request may not change anything (a sentence), or None when it may."""
        if scope["method"] not in UNSAFE_METHODS:
            return None
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        site = headers.get("sec-fetch-site")
        own = self._own(scope, headers)
        if origin is None:
            if site in ("cross-site", "same-site"):
                return f"Refused: a {site} request may not change anything here."
            return None
        found = normal_origin(origin)
        if found is not None and (found in self.allowed or self._is_own(found, own)):
            return None
        return (
            f"Refused: a request from {origin[:100]!r} may not change anything here; only "
            f"this gateway's own screen ({own}) may (other origins: ICC_GATEWAY_ALLOWED_ORIGINS)."
        )

    @staticmethod
    def _own(scope: Scope, headers: Headers) -> str:
        scheme = scope.get("scheme", "http")
        return f"{scheme}://{_netloc(scheme, headers.get('host', ''))}"

    @staticmethod
    def _is_own(origin: str, own: str) -> bool:
        # The same host. An https page may call the gateway over plain HTTP: a proxy that
        # ends TLS in front of it (only a page served from this very host has that origin).
        scheme, _, netloc = origin.partition("://")
        own_scheme, _, own_netloc = own.partition("://")
        return netloc == own_netloc and scheme in (own_scheme, "https")


def _refuse(message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    detail = ErrorDetail(code="permission_denied", message=message)
    body = json.dumps(ErrorResponse(error=detail).model_dump()).encode()
    return body, [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]


class EdgeGuard:
    """ASGI middleware: the cross-site check, then the headers on whatever is answered."""

    def __init__(self, app: ASGIApp, origins: Origins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    # A response with a policy of its own (the API's docs page) keeps it.
                    if name not in headers:
                        headers[name] = value
                if api:
                    headers["cache-control"] = "no-store"
                if https:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        refusal = self.origins.refusal(scope)
        if refusal is not None:
            origin = Headers(scope=scope).get("origin", "")
            log.warning(
                "cross-site request refused",
                extra={
                    "method": scope["method"],
                    "path": scope["path"][:200],
                    "origin": origin[:100],
                },
            )
            body, headers = _refuse(refusal)
            start = {"type": "http.response.start", "status": 403, "headers": headers}
            await send_with_headers(start)
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
