"""Partner API objects as JSON: the issue-5 resources, serialised once from their records.

Optional fields are omitted, never ``null`` (as in the seed's responses); ``metadata`` and
``statuses`` are always objects. No secret is ever part of these objects: not the SSN (only
``ssn4``), no card number or CVV (the card's fields are an allowlist), no client secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Response
from pydantic_core import to_json

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.domain.customer_sessions import customer_session_state
from imprint_sessions.storage.records import Customer, CustomerSession, Page, PaymentMethod

T = TypeVar("T")

JSON = "application/json"
_CUSTOMER_FIELDS = ("email", "phone", "first_name", "last_name", "preferred_language", "ssn4")
_CARD_FIELDS = ("last4", "network", "card_type", "card_design_id")
_LOAN_FIELDS = ("amount", "currency", "remaining_balance", "term_months", "apr", "loan_status")


def json_response(payload: Any, *, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(payload), media_type=JSON, headers=headers)


def _object(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def _only(value: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: value[field] for field in fields if value.get(field) is not None}


def render_list(page: Page[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": [render(item) for item in page.items],
        "has_more": page.has_more,
        "total": page.total,
    }


def render_customer(customer: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {"id": customer.id}
    for field in _CUSTOMER_FIELDS:
        value = getattr(customer, field)
        if value is not None:
            body[field] = value
    if customer.date_of_birth:
        year, month, day = (int(part) for part in customer.date_of_birth.split("-"))
        body["date_of_birth"] = {"year": year, "month": month, "day": day}
    if customer.address_json:
        body["address"] = _object(customer.address_json)
    if customer.partner_customer_id is not None:
        body["partner_customer_id"] = customer.partner_customer_id
    body["statuses"] = _object(customer.statuses_json)
    body["metadata"] = _object(customer.metadata_json)
    body["created_at"] = rfc3339_ms(customer.created_at)
    body["updated_at"] = rfc3339_ms(customer.updated_at)
    return body


def render_payment_method(payment_method: PaymentMethod) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": payment_method.id,
        "type": payment_method.type,
        "customer_id": payment_method.customer_id,
        "status": payment_method.status,
        "metadata": _object(payment_method.metadata_json),
    }
    # Allowlists: whatever else a stored card or loan holds is never shown.
    if payment_method.card_json:
        body["card"] = _only(_object(payment_method.card_json), _CARD_FIELDS)
    if payment_method.loan_json:
        body["loan"] = _only(_object(payment_method.loan_json), _LOAN_FIELDS)
    body["created_at"] = rfc3339_ms(payment_method.created_at)
    body["updated_at"] = rfc3339_ms(payment_method.updated_at)
    return body


def session_summary_renderer(now: int) -> Callable[[CustomerSession], dict[str, Any]]:
    """Render sessions as ``CustomerSessionSummary`` objects, their state as of ``now``."""

    def render(record: CustomerSession) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": record.id,
            "state": customer_session_state(record, now=now),
            "created_at": rfc3339_ms(record.created_at),
            "expires_at": rfc3339_ms(record.expires_at),
        }
        if record.consumed_at is not None:
            body["consumed_at"] = rfc3339_ms(record.consumed_at)
        if record.revoked_at is not None:
            body["revoked_at"] = rfc3339_ms(record.revoked_at)
        if record.source is not None:
            body["source"] = record.source
        if record.metadata_json is not None:
            body["metadata"] = json.loads(record.metadata_json)
        return body

    return render
