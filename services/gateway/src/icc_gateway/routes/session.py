"""Signing in and out (`/session`): an HttpOnly cookie holds the session's token."""

from fastapi import Request, Response

from icc_gateway import schemas
from icc_gateway.errors import unauthenticated
from icc_gateway.routes.deps import COOKIE, Ctx, Viewer, api_router

router = api_router("accounts")


@router.post("/session", response_model=schemas.SessionResponse)
async def login(body: schemas.LoginRequest, response: Response, gw: Ctx) -> schemas.SessionResponse:
    """Signs in: sets the HttpOnly session cookie `icc_session`."""
    found = await gw.accounts.login(body.username, body.password)
    if found is None:
        raise unauthenticated("Wrong username or password.")
    user, token = found
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(gw.accounts.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=gw.config.cookie_secure,
    )
    return schemas.SessionResponse(user=user)


@router.get("/session", response_model=schemas.SessionResponse)
async def session(you: Viewer) -> schemas.SessionResponse:
    return schemas.SessionResponse(user=you.user)


@router.delete("/session", status_code=204)
async def logout(request: Request, gw: Ctx) -> Response:
    await gw.accounts.logout(request.cookies.get(COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
