"""Signing in and out (`/session`): an HttpOnly cookie holds the session's token.

Wrong passwords are throttled per account and per client address (domain/throttle.py):
once a key is locked, sign-ins are answered 429 with `Retry-After` until it is free,
without checking the password. Each failure and refusal is logged (never the password;
the account's name only when it is a real account, as a mistyped name may be a password).
"""

import hashlib
import logging

from fastapi import Request, Response

from icc_gateway import schemas
from icc_gateway.errors import too_many_attempts, unauthenticated
from icc_gateway.routes.deps import COOKIE, Ctx, Viewer, api_router
from icc_gateway.throttle import sign_in_keys

log = logging.getLogger(__name__)
router = api_router("accounts")


def client_address(request: Request) -> str:
    """The caller's address: the connection's peer, or what a trusted proxy says it is
    (app.py); never a header by default."""
    return request.client.host if request.client else "unknown"


async def _who(gw: Ctx, username: str) -> dict[str, str]:
    """How a sign-in's account appears in the log: its name if it exists, else a short
    digest (failures against one unknown name can still be told apart)."""
    if await gw.accounts.exists(username):
        return {"user": username}
    return {"unknown_user": hashlib.sha256(username.encode()).hexdigest()[:12]}


@router.post(
    "/session",
    response_model=schemas.SessionResponse,
    responses={
        429: {
            "model": schemas.ErrorResponse,
            "description": "Too many wrong passwords for this account or from this address: "
            "try again after `Retry-After` seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    },
)
async def login(
    body: schemas.LoginRequest, request: Request, response: Response, gw: Ctx
) -> schemas.SessionResponse:
    """Signs in: sets the HttpOnly session cookie `icc_session`."""
    address = client_address(request)
    account, place = sign_in_keys(body.username, address)
    wait = await gw.throttle.wait_s([account, place])
    if wait:
        log.warning(
            "sign-in refused: throttled",
            extra={**await _who(gw, body.username), "address": address, "retry_after_s": wait},
        )
        raise too_many_attempts(wait)
    found = await gw.accounts.login(body.username, body.password)
    if found is None:
        wait = await gw.throttle.failed([account, place])
        log.warning(
            "sign-in failed",
            extra={**await _who(gw, body.username), "address": address, "locked_for_s": wait},
        )
        if wait:
            raise too_many_attempts(wait)
        raise unauthenticated("Wrong username or password.")
    user, token = found
    await gw.throttle.succeeded(account)
    secure = gw.config.cookie_secure
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(gw.accounts.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        # Unless configured: Secure whenever the sign-in itself came over HTTPS.
        secure=request.url.scheme == "https" if secure is None else secure,
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
