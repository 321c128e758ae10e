"""The HTTP API of API.md under `/api/v1`, one module per resource: each route checks the
session and role, then maps onto the services' gRPC (never their databases), acting as the
signed-in user (deps.py). `router` gathers them; app.py assembles the application."""

from fastapi import APIRouter

from icc_gateway.routes import (
    calltaking,
    dispatch,
    incidents,
    picture,
    reference,
    search,
    session,
    traces,
    units,
    warnings,
)

router = APIRouter()
PARTS = (session, reference, picture, search, incidents, calltaking, dispatch, units, traces)
for part in (*PARTS, warnings):
    router.include_router(part.router)
# Outside the API, no session: the public warnings' feed and messages.
public_router = warnings.public_router
