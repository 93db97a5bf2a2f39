"""``/v2/client/session``: the customer session behind the credential (the page's context)."""

from __future__ import annotations

from fastapi import APIRouter

from imprint_sessions.client_api.auth import ClientAuth
from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc
from imprint_sessions.domain import applications
from imprint_sessions.wire.client import ClientSession, application_out

router = APIRouter(prefix="/v2/client", tags=["Client API"])


@router.get(
    "/session",
    operation_id="getClientSession",
    summary="The customer session behind the credential",
    response_model=ClientSession,
    responses=client_error_responses(401, 503),
)
async def get_session(services: Svc, principal: ClientAuth) -> ClientSession:
    """Returns the session's customer, partner, transaction and latest application."""
    context = principal.context
    latest = await applications.latest_application(
        services.database.repositories, principal=principal
    )
    return ClientSession(
        customer_session_id=principal.customer_session_id,
        customer_id=principal.customer_id,
        partner_customer_id=context.customer.partner_customer_id,
        merchant_key=context.merchant_key,
        partner_name=context.partner_name,
        expires_at=rfc3339_ms(principal.claims.expires_at),
        transaction_amount=context.transaction_amount,
        transaction_currency=context.transaction_currency,
        preferred_language=context.customer.preferred_language,
        application=application_out(latest) if latest else None,
    )
