"""``/healthz`` (the process is up) and ``/readyz`` (the database answers, a connection is free)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from imprint_sessions.deps import Svc
from imprint_sessions.partner_api.errors_doc import error_responses

router = APIRouter(tags=["Operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]


@router.get(
    "/healthz",
    operation_id="healthz",
    response_model=Health,
    responses={200: {"description": "Up"}},
)
async def healthz() -> Response:
    """The process is up (it does not touch the database)."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={200: {"description": "Ready"}, **error_responses(503)},
)
async def readyz(services: Svc) -> Response:
    """The database answers and a connection is free; route here only when this is 200."""
    # Within about a second whatever the database does: 503 at once, naming the cause, when every
    # pooled connection is busy; 503 when the database does not answer within 1 s.
    await services.database.repositories.ping()
    return Response(b'{"status":"ready"}', media_type="application/json")
