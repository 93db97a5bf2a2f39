"""Partner API objects as JSON responses: each written by the serializer generated from its
wire model (``schemas.py``, ``serializers.py``), so no shape is written twice.

Optional fields are omitted, never ``null`` (as in the seed's responses); ``metadata`` and
``statuses`` are always objects. No secret is ever part of these objects: not the SSN (only
``ssn4``), no card number or CVV (the card's and loan's models are allowlists), no client
secret outside the seed's ``CustomerSession``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json

from imprint_sessions.domain.customer_sessions import IssuedCustomerSession
from imprint_sessions.partner_api import schemas
from imprint_sessions.serializers import serializer
from imprint_sessions.storage import records

JSON = "application/json"

CUSTOMER_SESSION = serializer(schemas.CustomerSession, record=IssuedCustomerSession)
CUSTOMER_SESSION_SUMMARY = serializer(
    schemas.CustomerSessionSummary, record=records.CustomerSession
)
CUSTOMER_SESSION_LIST = serializer(schemas.CustomerSessionList, record=records.Page)
CUSTOMER = serializer(schemas.Customer, record=records.Customer)
CUSTOMER_LIST = serializer(schemas.CustomerList, record=records.Page)
PAYMENT_METHOD = serializer(schemas.PaymentMethod, record=records.PaymentMethod)
PAYMENT_METHOD_LIST = serializer(schemas.CustomerPaymentMethodList, record=records.Page)


def json_response(payload: bytes | Any, *, headers: dict[str, str] | None = None) -> Response:
    """``payload`` (serialised bytes, or a value to serialise) as an ``application/json`` 200."""
    body = payload if isinstance(payload, bytes) else to_json(payload)
    return Response(body, media_type=JSON, headers=headers)
