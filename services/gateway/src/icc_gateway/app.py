"""The ASGI application: the API, health, the screen's static files, tracing, errors,
and the HTTP edge's protections (security.py) around all of it."""

import re
import secrets
from collections.abc import Iterator
from typing import Any, cast

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.util.http import ExcludeList
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from icc_gateway import schemas
from icc_gateway.context import Gateway
from icc_gateway.errors import HTTP_CODES, ApiError, from_validation
from icc_gateway.fields import TYPE_CODE_MARK
from icc_gateway.routes import public_router, router
from icc_gateway.schemas import ErrorCode
from icc_gateway.security import EdgeGuard, Origins

OPENAPI_URL = "/api/openapi.json"
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# Only the API is traced: not health checks, the screen's files, nor the picture
# stream (a span as long as a dispatcher's shift says nothing).
UNTRACED = ExcludeList(
    [
        r"^[a-z]+://[^/]+/(?!api/)",
        re.escape("/api/v1/picture/stream"),
        r"/api/(openapi\.json|docs)",
    ]
)


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error(exc)


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _error(from_validation(exc.errors()))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code: ErrorCode = HTTP_CODES.get(status, "internal" if status >= 500 else "invalid_argument")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if status == 404 and message == "Not Found":
        message = f"Nothing at {request.url.path[:200]}; the API is under /api/v1 (see /api/docs)."
    response = _error(ApiError(exc.status_code, code, message))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


class OptionalStaticFiles(StaticFiles):
    """Static files whose directory may not exist yet: 404 until it does, not a 500."""

    async def check_config(self) -> None:
        # One stat per request until the directory is there (then the parent's check).
        if self.directory is not None and not await anyio.Path(self.directory).is_dir():
            raise StarletteHTTPException(404, "The screen is not installed in this gateway.")
        await super().check_config()


def _methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the API document gives `path` (none: no such path), so that `Allow`
    says exactly what the document does."""
    paths: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "paths", None)
    if paths is None:
        paths = [
            (compile_path(template)[0], {m.upper() for m in operations})
            for template, operations in app.openapi()["paths"].items()
        ]
        app.state.paths = paths
    return set().union(*(methods for pattern, methods in paths if pattern.match(path)))


async def _other_methods(request: Request) -> Response:
    """Any method at an API path that no route takes: OPTIONS says which ones it does,
    others get 405 naming them; a path no route has is 404."""
    methods = _methods_at(request.app, request.url.path)
    if not methods:
        raise StarletteHTTPException(404, "Not Found")
    allow = ", ".join(sorted(methods | {"OPTIONS"}))
    if request.method == "OPTIONS":
        # No CORS headers: the API is for the gateway's own screen, so a browser's
        # preflight from elsewhere fails here.
        return Response(status_code=204, headers={"Allow": allow})
    message = f"{request.method} is not allowed at this path; it takes {allow}."
    raise StarletteHTTPException(405, message, headers={"Allow": allow})


# The API's docs page: Swagger UI's script and styles come from its CDN, its one inline
# script runs by this response's nonce. No Trusted Types here (Swagger UI writes markdown
# as HTML, sanitized by its own DOMPurify); the page shows the API's description, no data.
_DOCS_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}' https://cdn.jsdelivr.net; "
    "style-src https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)


async def _docs(_request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    page = get_swagger_ui_html(openapi_url=OPENAPI_URL, title="ICC gateway API")
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    policy = _DOCS_POLICY.format(nonce=nonce)
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def _marked(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema in `node` (the API document, or a part of it) that is a type code."""
    if isinstance(node, dict):
        if node.get(TYPE_CODE_MARK):
            yield node
        for value in node.values():
            yield from _marked(value)
    elif isinstance(node, list):
        for value in node:
            yield from _marked(value)


def _list_type_codes(app: FastAPI, gw: Gateway) -> None:
    """The API document names the incident types every `type_code` may take (bodies and
    query strings), from the gateway's copy of the catalog (none listed until read)."""
    document = app.openapi

    def openapi() -> dict[str, Any]:
        schema = document()  # FastAPI's, made once
        for shape in _marked(schema):
            if gw.catalog.codes:
                shape["enum"] = sorted(gw.catalog.codes)
            else:
                shape.pop("enum", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(gw: Gateway) -> ASGIApp:
    app = FastAPI(
        title="ICC gateway",
        version="1",
        description="The dispatcher screen's API: accounts, the live common operating "
        "picture (with Server-Sent Events) and actions mapped onto the ICC services.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own telemetry off: OpenTelemetryMiddleware (below) makes the one
        # server span, and nothing else may record request bodies or validation inputs
        # (callers' names and phones).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.gateway = gw
    _list_type_codes(app, gw)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.include_router(router)
    app.include_router(public_router)
    app.add_api_route("/api/docs", _docs, methods=["GET"], include_in_schema=False)
    # After every API route: the methods and paths they do not take.
    app.add_api_route("/api/{rest:path}", _other_methods, methods=_METHODS, include_in_schema=False)

    @app.get("/healthz", response_model=schemas.Health, include_in_schema=False)
    async def healthz() -> Any:
        if not gw.feed.loaded.is_set():
            return JSONResponse(schemas.Health(status="loading").model_dump(), status_code=503)
        return schemas.Health(status="ok")

    leaflet = gw.config.leaflet_dir
    if leaflet is not None and leaflet.is_dir():
        app.mount("/vendor/leaflet", StaticFiles(directory=leaflet), name="leaflet")
    # Last: everything not matched above is the screen (index.html at /). The directory
    # is the other half of the project and may appear after start-up.
    screen = OptionalStaticFiles(directory=gw.config.screen_dir(), html=True, check_dir=False)
    app.mount("/", screen, name="web")
    guarded = EdgeGuard(app, Origins.of(gw.config.allowed_origins))
    # W3C trace context from the browser (if any) continues into the gRPC calls; one
    # span per request, without a span per body chunk sent or received.
    traced = OpenTelemetryMiddleware(
        guarded, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
    )
    if not gw.config.trusted_proxies:
        return traced
    # Outermost: the client's address and scheme as the trusted proxy saw them, for
    # everything inside (the throttle's address, HSTS, the Secure cookie, the origin).
    # (uvicorn's middleware is typed with uvicorn's own ASGI types: the same protocol.)
    trusted = list(gw.config.trusted_proxies)
    return cast(ASGIApp, ProxyHeadersMiddleware(traced, trusted_hosts=trusted))  # type: ignore[arg-type]
