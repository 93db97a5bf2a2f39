"""The webhook outbox: an event and its deliveries, written in the caller's unit of work.

``record_event`` is called by the domain function that changes state, with the repositories of
the unit of work that change runs in: the event commits with the change or not at all, and
nothing is sent from inside a request (the worker sends what was committed).

Bodies are compact JSON with sorted keys, ``{"data": {...}, "id": <event id>, "object": TYPE}``:
the reference's ``{object, data}`` plus the event id, so a partner verifying only
``X-IMPRINT-HMAC-SIGNATURE`` can still de-duplicate. Timestamps are RFC-3339 with milliseconds.
A type's ``data`` always has the same keys (its model's fields): ``null`` where a value is
unknown, never left out, so a receiver can rely on every key the reference lists. The models are
what the served OpenAPI publishes under ``webhooks``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.credentials import new_id
from imprint_sessions.storage.records import (
    Application,
    PaymentMethod,
    WebhookDelivery,
    WebhookEvent,
)
from imprint_sessions.storage.repositories import Repositories

APPLICATION = "APPLICATION"
PAYMENT_METHOD = "PAYMENT_METHOD"
EVENT_TYPES = (APPLICATION, PAYMENT_METHOD)
# Only terminal decisions are sent; IN_PROGRESS, ERROR, PENDING_REVIEW and APPROVED never are.
TERMINAL_APPLICATION_STATUSES = frozenset({"OFFER_ACCEPTED", "REJECTED"})
ENDPOINT_ENABLED = "enabled"
ENDPOINT_DELETED = "deleted"  # a tombstone: url and secret scrubbed, never listed or found
PENDING = "pending"


def render_event_body(event_id: str, event_type: str, data: dict[str, Any]) -> str:
    """The exact body of every attempt: compact JSON, keys sorted."""
    return json.dumps(
        {"data": data, "id": event_id, "object": event_type},
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )


_TIMESTAMP = "2025-02-13T19:08:07.000Z"


class _EventData(BaseModel):
    # Every field is required in the schema, nullable or not: the key is always there.
    model_config = ConfigDict(extra="forbid", json_schema_mode_override="serialization")


class ApplicationEventData(_EventData):
    """``APPLICATION``'s data: a terminal decision on the customer's application."""

    customer_id: str = Field(examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"])
    partner_customer_id: str | None = Field(
        description="The customer's id in your system; null when it has none",
        examples=["CUST_03476998"],
    )
    status: Literal["OFFER_ACCEPTED", "REJECTED"]
    created_at: str = Field(description="When the application was started", examples=[_TIMESTAMP])
    updated_at: str = Field(description="When it was decided", examples=[_TIMESTAMP])
    merchant_key: str | None = Field(
        description="The product applied for; null for a partner without merchant keys"
    )
    customer_metadata: dict[str, Any] | None = Field(
        description="The customer's metadata; null when it has none",
        examples=[{"loyalty_id": "L-123"}],
    )


class PaymentMethodEventData(_EventData):
    """``PAYMENT_METHOD``'s data: a payment method was created or changed status."""

    payment_method_id: str = Field(examples=["5B1D2F3E-8A7C-4E6D-9F0A-1B2C3D4E5F60"])
    customer_id: str = Field(examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"])
    partner_customer_id: str | None = Field(
        description="The customer's id in your system; null when it has none",
        examples=["CUST_03476998"],
    )
    type: Literal["CARD", "LOAN", "BANK_ACCOUNT"]
    card_type: Literal["VIRTUAL", "PHYSICAL", "UNIFIED"] | None = Field(
        description="null when the payment method is not a card"
    )
    previous_status: Literal["ACTIVE", "INACTIVE", "CANCELED"] | None = Field(
        description="null when the payment method was just created"
    )
    new_status: Literal["ACTIVE", "INACTIVE", "CANCELED"]
    created_at: str = Field(examples=[_TIMESTAMP])
    updated_at: str = Field(examples=[_TIMESTAMP])
    merchant_key: str | None = Field(
        description="The product it belongs to; null for a partner without merchant keys"
    )


EVENT_DATA_MODELS: dict[str, type[_EventData]] = {
    APPLICATION: ApplicationEventData,
    PAYMENT_METHOD: PaymentMethodEventData,
}


def application_event_data(
    *,
    customer_id: str,
    partner_customer_id: str | None,
    status: str,
    created_at: int,
    updated_at: int,
    merchant_key: str | None,
    customer_metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """``APPLICATION``'s data (reference, section 5)."""
    if status not in TERMINAL_APPLICATION_STATUSES:
        raise ValueError(f"APPLICATION webhooks are sent only for terminal decisions, not {status}")
    return ApplicationEventData.model_validate(
        {
            "customer_id": customer_id,
            "partner_customer_id": partner_customer_id,
            "status": status,
            "created_at": rfc3339_ms(created_at),
            "updated_at": rfc3339_ms(updated_at),
            "merchant_key": merchant_key,
            "customer_metadata": customer_metadata,
        }
    ).model_dump(mode="json")


def payment_method_event_data(
    *,
    payment_method_id: str,
    customer_id: str,
    partner_customer_id: str | None,
    payment_method_type: str,
    card_type: str | None,
    previous_status: str | None,
    new_status: str,
    created_at: int,
    updated_at: int,
    merchant_key: str | None,
) -> dict[str, Any]:
    """``PAYMENT_METHOD``'s data: on creation ``previous_status`` is null."""
    return PaymentMethodEventData.model_validate(
        {
            "payment_method_id": payment_method_id,
            "customer_id": customer_id,
            "partner_customer_id": partner_customer_id,
            "type": payment_method_type,
            "card_type": card_type,
            "previous_status": previous_status,
            "new_status": new_status,
            "created_at": rfc3339_ms(created_at),
            "updated_at": rfc3339_ms(updated_at),
            "merchant_key": merchant_key,
        }
    ).model_dump(mode="json")


async def record_event(
    repos: Repositories, *, partner_id: str, event_type: str, data: dict[str, Any], now: int
) -> WebhookEvent:
    """Write the event, and one delivery per enabled endpoint of the partner subscribed to it.

    Call it with the repositories of the unit of work that makes the change. The event is kept
    even when no endpoint wants it (the partner API lists it).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event_id = new_id()
    event = WebhookEvent(
        id=event_id,
        partner_id=partner_id,
        type=event_type,
        payload=render_event_body(event_id, event_type, data),
        created_at=now,
    )
    deliveries = [
        WebhookDelivery(
            id=new_id(),
            event_id=event_id,
            endpoint_id=endpoint.id,
            partner_id=partner_id,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            last_attempt_at=None,
            last_error=None,
            replay_of=None,
            created_at=now,
            updated_at=now,
        )
        for endpoint in await repos.list_webhook_endpoints(partner_id)
        if endpoint.status == ENDPOINT_ENABLED and event_type in endpoint.event_types
    ]
    await repos.insert_webhook_event(event, deliveries)
    return event


# -- the state changes that produce events (called by applications.py and payment_methods.py) -----


async def _customer_fields(
    repos: Repositories, partner_id: str, customer_id: str
) -> tuple[str | None, dict[str, Any] | None]:
    """The customer's ``partner_customer_id`` and metadata, read in the caller's transaction."""
    customer = await repos.get_partner_customer(partner_id, customer_id)
    if customer is None:
        return None, None
    metadata = json.loads(customer.metadata_json) if customer.metadata_json else None
    return customer.partner_customer_id, metadata or None


async def record_application_decision(
    repos: Repositories, *, application: Application, now: int
) -> WebhookEvent | None:
    """The ``APPLICATION`` event of a terminal decision; nothing for any other status."""
    if application.status not in TERMINAL_APPLICATION_STATUSES:
        return None
    partner_customer_id, metadata = await _customer_fields(
        repos, application.partner_id, application.customer_id
    )
    data = application_event_data(
        customer_id=application.customer_id,
        partner_customer_id=partner_customer_id,
        status=application.status,
        created_at=application.created_at,
        updated_at=application.updated_at,
        merchant_key=application.merchant_key,
        customer_metadata=metadata,
    )
    return await record_event(
        repos, partner_id=application.partner_id, event_type=APPLICATION, data=data, now=now
    )


async def record_payment_method_change(
    repos: Repositories,
    *,
    payment_method: PaymentMethod,
    previous_status: str | None,
    merchant_key: str | None,
    now: int,
) -> WebhookEvent:
    """The ``PAYMENT_METHOD`` event of a creation (``previous_status`` None) or status change.

    ``merchant_key`` None: the product of the application that created the payment method.
    """
    partner_customer_id, _ = await _customer_fields(
        repos, payment_method.partner_id, payment_method.customer_id
    )
    if merchant_key is None and payment_method.application_id is not None:
        application = await repos.get_application(
            payment_method.application_id, customer_id=payment_method.customer_id
        )
        merchant_key = application.merchant_key if application is not None else None
    card = json.loads(payment_method.card_json) if payment_method.card_json else {}
    data = payment_method_event_data(
        payment_method_id=payment_method.id,
        customer_id=payment_method.customer_id,
        partner_customer_id=partner_customer_id,
        payment_method_type=payment_method.type,
        card_type=card.get("card_type"),
        previous_status=previous_status,
        new_status=payment_method.status,
        created_at=payment_method.created_at,
        updated_at=payment_method.updated_at,
        merchant_key=merchant_key,
    )
    return await record_event(
        repos, partner_id=payment_method.partner_id, event_type=PAYMENT_METHOD, data=data, now=now
    )
