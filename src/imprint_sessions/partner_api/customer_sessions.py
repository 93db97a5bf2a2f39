"""``/v2/customer_sessions``: create a session (the seed's operation) and retrieve one."""

from __future__ import annotations

import json

import pydantic
from fastapi import APIRouter, Request, Response

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc
from imprint_sessions.domain import customer_sessions
from imprint_sessions.domain.customer_sessions import IssuedCustomerSession
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.partner_api.auth import MerchantKey, PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.schemas import CreateCustomerSessionRequest, CustomerSession
from imprint_sessions.validation import validation_details

router = APIRouter(tags=["Customer Sessions"])

_JSON = "application/json"


def render_customer_session(issued: IssuedCustomerSession) -> bytes:
    """The seed's ``CustomerSession``, serialised once; ``metadata`` echoed as it was sent."""
    parts = [
        '{"id":"',
        issued.id,
        '","client_secret":"',
        issued.client_secret,
        '","expires_at":"',
        rfc3339_ms(issued.expires_at),
        '"',
    ]
    if issued.metadata_json is not None:
        parts += [',"metadata":', issued.metadata_json]
    if issued.source is not None:
        parts += [',"source":', json.dumps(issued.source, ensure_ascii=False)]
    parts.append("}")
    return "".join(parts).encode()


def parse_json_body(model: type[pydantic.BaseModel], request: Request, body: bytes) -> object:
    """Validate raw bytes straight into ``model``; every problem becomes one 400 detail."""
    if not body.strip():
        body = b"{}"
    else:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != _JSON and not media_type.endswith("+json"):
            raise InvalidRequest("content-type: must be application/json")
    try:
        return model.model_validate_json(body)
    except pydantic.ValidationError as exc:
        raise InvalidRequest(*validation_details(exc)) from None


@router.post(
    "/v2/customer_sessions",
    operation_id="createSession",
    summary="Create a new customer session",
    status_code=200,
    response_model=CustomerSession,
    responses=error_responses(400, 401, 403, 404, 413, 429, 503),
    openapi_extra={
        "requestBody": {
            "content": {
                _JSON: {"schema": {"$ref": "#/components/schemas/CreateCustomerSessionRequest"}}
            }
        }
    },
)
async def create_session(
    request: Request, services: Svc, principal: PartnerAuth, merchant_key: MerchantKey
) -> Response:
    """Creates a new session for a customer with a client_secret that can be passed to the SDK.

    If required, a new customer is created to attach this session to. Customer history can be
    attached to this session and will be included in the customer's profile if created, or
    attached to the application the customer creates during the session.
    """
    body = parse_json_body(CreateCustomerSessionRequest, request, await request.body())
    assert isinstance(body, CreateCustomerSessionRequest)
    history = body.customer_history
    issued = await customer_sessions.create_customer_session(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        principal=principal,
        merchant_key=merchant_key,
        ttl_seconds=services.settings.session_ttl_seconds,
        customer_id=body.customer_id,
        partner_customer_id=body.partner_customer_id,
        transaction_amount=body.transaction_amount,
        transaction_currency=body.transaction_currency,
        customer_history=history.model_dump(exclude_none=True) if history else None,
        source=body.source,
        metadata=body.metadata,
    )
    return Response(render_customer_session(issued), media_type=_JSON)


@router.get(
    "/v2/customer_sessions/{session_id}",
    operation_id="getSession",
    summary="Retrieve a customer session",
    response_model=CustomerSession,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def get_session(session_id: str, services: Svc, principal: PartnerAuth) -> Response:
    """Returns one of the caller's sessions, with its client_secret, as Imprint's retrieve does."""
    issued = await customer_sessions.get_customer_session(
        services.database.repositories,
        box=services.box,
        principal=principal,
        customer_session_id=session_id,
    )
    return Response(render_customer_session(issued), media_type=_JSON)
