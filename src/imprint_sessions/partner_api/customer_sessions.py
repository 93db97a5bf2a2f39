"""``/v2/customer_sessions``: create a session (the seed's operation), retrieve one, expire one;
and a customer's sessions (``/v2/customers/{customer_id}/customer_sessions``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from imprint_sessions.deps import Svc, partner_actor
from imprint_sessions.domain import customer_sessions
from imprint_sessions.domain.customers import page_request
from imprint_sessions.json_body import JsonBody
from imprint_sessions.observability.metrics import SESSIONS_CREATED, SESSIONS_EXPIRED
from imprint_sessions.partner_api.auth import MerchantKey, PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import IDEMPOTENT_RESPONSES, Idempotency
from imprint_sessions.partner_api.params import (
    DEFAULT_LIMIT,
    CustomerIdPath,
    Limit,
    SessionIdPath,
    StartingAfter,
)
from imprint_sessions.partner_api.rendering import (
    json_response,
)
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.wire.partner import (
    CUSTOMER_SESSION,
    CUSTOMER_SESSION_LIST,
    CUSTOMER_SESSION_SUMMARY,
    CreateCustomerSessionRequest,
    CustomerSession,
    CustomerSessionList,
    CustomerSessionSummary,
)

# The seed's own words for the operation, verbatim (the docstring below is for readers).
SEED_DESCRIPTION = (
    "Creates a new session for a customer with a client_secret that can be passed to the SDK, "
    "providing client access to modify their own profile, card, or card/loan application. If "
    "required, a new customer will be created to attach this session to. Customer history can be "
    "attached to this session and will be included in the customer's profile if created, or "
    "attached to the application the customer creates during the session"
)

router = APIRouter(tags=["Customer Sessions"])
_BODY = JsonBody(CreateCustomerSessionRequest)

_JSON = "application/json"


@router.post(
    "/v2/customer_sessions",
    operation_id="createSession",
    summary="Create a new customer session",
    description=SEED_DESCRIPTION,
    response_description="Customer session created successfully",
    status_code=200,
    response_model=CustomerSession,
    responses={**error_responses(400, 401, 403, 404, 413, 429, 503), **IDEMPOTENT_RESPONSES},
    openapi_extra=_BODY.openapi,
)
async def create_session(
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    merchant_key: MerchantKey,
    idempotency: Idempotency,
) -> Response:
    """Creates a new session for a customer with a client_secret that can be passed to the SDK.

    If required, a new customer is created to attach this session to. Customer history can be
    attached to this session and will be included in the customer's profile if created, or
    attached to the application the customer creates during the session.
    """

    created = False

    async def create(repos: Repositories) -> Response:
        nonlocal created
        body = await _BODY.read(request)
        history = body.customer_history
        issued = await customer_sessions.create_customer_session(
            repos,
            clock=services.clock,
            box=services.box,
            principal=principal,
            merchant_key=merchant_key,
            ttl_seconds=body.expires_in or services.settings.session_ttl_seconds,
            customer_id=body.customer_id,
            partner_customer_id=body.partner_customer_id,
            transaction_amount=body.transaction_amount,
            transaction_currency=body.transaction_currency,
            customer_history=history.model_dump(exclude_none=True) if history else None,
            source=body.source,
            metadata=body.metadata,
            audit=partner_actor(request, principal),
        )
        created = True
        return json_response(CUSTOMER_SESSION(issued))

    response = await idempotency.run(create)
    if created:  # committed (a failed commit raised); a replay created nothing
        SESSIONS_CREATED.inc()
    return response


@router.get(
    "/v2/customer_sessions/{session_id}",
    operation_id="getSession",
    summary="Retrieve a customer session",
    response_model=CustomerSession,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def get_session(session_id: SessionIdPath, services: Svc, principal: PartnerAuth) -> Response:
    """Returns one of the caller's sessions, with its client_secret, as Imprint's retrieve does."""
    issued = await customer_sessions.get_customer_session(
        services.database.repositories,
        box=services.box,
        principal=principal,
        customer_session_id=session_id,
    )
    return json_response(CUSTOMER_SESSION(issued))


# -- the lifecycle beyond Imprint's API (issue 5): no client_secret in these responses ----------


@router.get(
    "/v2/customers/{customer_id}/customer_sessions",
    operation_id="listCustomerSessions",
    summary="List a customer's sessions",
    response_model=CustomerSessionList,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def list_customer_sessions(
    customer_id: CustomerIdPath,
    services: Svc,
    principal: PartnerAuth,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: StartingAfter = None,
) -> Response:
    """Lists one of your customers' sessions with their states, oldest first (no secrets)."""
    page = await customer_sessions.list_customer_sessions(
        services.database.repositories,
        principal=principal,
        customer_id=customer_id,
        page=page_request(limit, starting_after, of_what="this customer's sessions"),
    )
    return json_response(CUSTOMER_SESSION_LIST(page, services.clock.now_ms()))


@router.post(
    "/v2/customer_sessions/{session_id}/expire",
    operation_id="expireSession",
    summary="Expire a customer session now",
    response_model=CustomerSessionSummary,
    responses={**error_responses(400, 401, 404, 413, 429, 503), **IDEMPOTENT_RESPONSES},
)
async def expire_session(
    session_id: SessionIdPath,
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    idempotency: Idempotency,
) -> Response:
    """Ends one of your sessions now: its client_secret can no longer be exchanged."""

    ended_now = False

    async def expire(repos: Repositories) -> Response:
        nonlocal ended_now
        expiry = await customer_sessions.expire_customer_session(
            repos,
            clock=services.clock,
            principal=principal,
            customer_session_id=session_id,
            audit=partner_actor(request, principal),
        )
        ended_now = expiry.ended_now
        return json_response(
            CUSTOMER_SESSION_SUMMARY(expiry.customer_session, services.clock.now_ms())
        )

    response = await idempotency.run(expire)
    if ended_now:
        SESSIONS_EXPIRED.inc()
    return response
