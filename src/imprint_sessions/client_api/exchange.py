"""``/v2/client/exchange``: a customer session's one-time client_secret for a client credential."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic_core import to_json

from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc, client_actor
from imprint_sessions.domain.client_sessions import exchange_client_secret
from imprint_sessions.errors import InvalidClientSecret
from imprint_sessions.json_body import JsonBody
from imprint_sessions.observability.metrics import SESSIONS_EXCHANGED, exchange_refused
from imprint_sessions.wire.client import (
    ExchangeRequest,
    ExchangeResponse,
    dates_as_of,
)

router = APIRouter(prefix="/v2/client", tags=["Client API"])
_BODY = JsonBody(ExchangeRequest)


@router.post(
    "/exchange",
    operation_id="exchangeClientSecret",
    summary="Exchange a client secret for a client credential",
    response_model=ExchangeResponse,
    responses=client_error_responses(400, 401, 413, 503),
    openapi_extra=_BODY.openapi,
)
async def exchange(request: Request, services: Svc) -> Response:
    """Uses up the session's client_secret (once) and returns a short-lived client credential."""
    body = await _BODY.read(request, context=dates_as_of(services.clock))
    if services.faults is not None:  # the sandbox: a test fault of the secret's partner
        await services.faults.before_exchange(
            request,
            services.database.repositories,
            box=services.box,
            client_secret=body.client_secret,
        )
    try:
        issued = await exchange_client_secret(
            services.database.repositories,
            clock=services.clock,
            box=services.box,
            client_secret=body.client_secret,
            ttl_seconds=services.settings.client_token_ttl_seconds,
            unsafe_racy=services.settings.unsafe_racy_exchange,
            audit=client_actor(request),
            test_clocks=services.settings.sandbox,
        )
    except InvalidClientSecret as exc:
        exchange_refused(exc.reason)
        raise
    SESSIONS_EXCHANGED.inc()
    # ``ExchangeResponse``'s fields, serialised once (a hot path: no response-model pass).
    credential = {
        "access_token": issued.access_token,
        "expires_at": rfc3339_ms(issued.expires_at),
        "customer_session_id": issued.customer_session_id,
    }
    return Response(to_json(credential), media_type="application/json")
