"""The ASGI application: the API, health, the screen's static files, tracing, errors."""

import re
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.util.http import ExcludeList
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from icc_gateway import schemas
from icc_gateway.context import Gateway
from icc_gateway.errors import HTTP_CODES, ApiError, from_validation
from icc_gateway.routes import router
from icc_gateway.schemas import ErrorCode

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
    return JSONResponse(exc.body(), status_code=exc.status)


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


def create_app(gw: Gateway) -> ASGIApp:
    app = FastAPI(
        title="ICC gateway",
        version="1",
        description="The dispatcher screen's API: accounts, the live common operating "
        "picture (with Server-Sent Events) and actions mapped onto the ICC services.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        # FastAPI's own telemetry off: OpenTelemetryMiddleware (below) makes the one
        # server span, and nothing else may record request bodies or validation inputs
        # (callers' names and phones).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.gateway = gw
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.include_router(router)

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
    # W3C trace context from the browser (if any) continues into the gRPC calls; one
    # span per request, without a span per body chunk sent or received.
    return OpenTelemetryMiddleware(app, excluded_urls=UNTRACED, exclude_spans=["receive", "send"])
