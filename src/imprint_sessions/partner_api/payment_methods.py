"""``/v2/payment_methods`` and a customer's ``payment_methods``: cards and loans, read-only.

Never a card number or CVV: only ``last4``, ``network``, ``card_type`` and ``card_design_id``.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from imprint_sessions.deps import Svc
from imprint_sessions.domain import payment_methods
from imprint_sessions.domain.customers import page_request
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.params import (
    DEFAULT_LIMIT,
    CustomerIdPath,
    Limit,
    PaymentMethodIdPath,
    StartingAfter,
)
from imprint_sessions.partner_api.rendering import (
    json_response,
)
from imprint_sessions.wire.partner import (
    PAYMENT_METHOD,
    PAYMENT_METHOD_LIST,
    CustomerPaymentMethodList,
    PaymentMethod,
)

router = APIRouter(tags=["Payment Methods"])


@router.get(
    "/v2/customers/{customer_id}/payment_methods",
    operation_id="listPaymentMethods",
    summary="List a customer's payment methods",
    response_model=CustomerPaymentMethodList,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def list_payment_methods(
    customer_id: CustomerIdPath,
    services: Svc,
    principal: PartnerAuth,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: StartingAfter = None,
) -> Response:
    """Lists one of your customers' cards and loans, oldest first: `{data, has_more, total}`."""
    page = await payment_methods.list_for_partner_customer(
        services.database.repositories,
        principal=principal,
        customer_id=customer_id,
        page=page_request(limit, starting_after, of_what="this customer's payment methods"),
    )
    return json_response(PAYMENT_METHOD_LIST(page))


@router.get(
    "/v2/payment_methods/{payment_method_id}",
    operation_id="getPaymentMethod",
    summary="Retrieve a payment method",
    response_model=PaymentMethod,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def get_payment_method(
    payment_method_id: PaymentMethodIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """Returns one of your customers' payment methods."""
    found = await payment_methods.get_for_partner(
        services.database.repositories, principal=principal, payment_method_id=payment_method_id
    )
    return json_response(PAYMENT_METHOD(found))
