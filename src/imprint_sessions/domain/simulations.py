"""The sandbox's ``simulate_application`` trigger: a customer's application driven to a terminal
decision through the hosted flow's own steps, so the same state changes and webhooks follow.

Like the hosted flow, it starts a customer session for the customer (the partner's product from
``x-imprint-merchant-key``), then records the decision with ``applications.record_decision`` and,
for ``OFFER_ACCEPTED``, accepts the offer with ``applications.accept_offer`` (the card is
created, the program opened). Only the credit decision is dictated instead of decided, and the
phone check is skipped. Everything runs in the caller's unit of work.

- ``REJECTED``: a new application, rejected (the ``APPLICATION`` webhook).
- ``OFFER_ACCEPTED``: the customer's latest application if it is an open (APPROVED) offer, else a
  new one approved with the sandbox's card offer; then accepted (``APPLICATION`` and
  ``PAYMENT_METHOD`` webhooks).

Each call is a new decision, so a partner can trigger its handlers as often as it likes.

``fire_webhook_event`` (``POST /v2/test_helpers/webhook_events``) changes nothing: it writes one
event of any type for one of the partner's customers through the outbox and the payload
builders of real events (``events.py``), so it is signed and delivered exactly as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final, Literal

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import ClientTokenClaims, SecretBox
from imprint_sessions.domain import applications, customer_sessions, events
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain.client_sessions import ClientPrincipal
from imprint_sessions.domain.decisions import (
    APPROVED,
    DEFAULT_CURRENCY,
    REJECTED,
    SANDBOX_CARD_APR,
    SANDBOX_CARD_CREDIT_LIMIT,
    ApplicationInput,
    Decision,
    Offer,
)
from imprint_sessions.domain.profiles import profile_value
from imprint_sessions.domain.webhooks import canonical_id
from imprint_sessions.errors import (
    CustomerNotFound,
    InvalidRequest,
    NotFound,
    PaymentMethodNotFound,
)
from imprint_sessions.storage.records import (
    Application,
    AuditContext,
    Customer,
    CustomerQuery,
    PageRequest,
    PaymentMethod,
    Principal,
    WebhookEvent,
)
from imprint_sessions.storage.repositories import Repositories

SimulatedStatus = Literal["OFFER_ACCEPTED", "REJECTED"]
SIMULATED_REASON: Final = "sandbox: simulate_application"
# Answers for what the customer's profile does not say (the decision is dictated anyway).
_PLACEHOLDERS: Final[dict[str, Any]] = {
    "first_name": "Sandbox",
    "last_name": "Customer",
    "email": "sandbox.customer@example.com",
    "phone": "+14155550100",
    "date_of_birth": date(1990, 1, 1),
    "address": {
        "street_line1": "1 Sandbox Way",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94105",
        "country": "USA",
    },
}


@dataclass(frozen=True, slots=True)
class SimulatedApplication:
    customer: Customer
    application: Application
    payment_method: PaymentMethod | None


async def _customer(
    repos: Repositories,
    partner_id: str,
    customer_id: str | None,
    partner_customer_id: str | None,
) -> Customer:
    if customer_id is None and partner_customer_id is None:
        raise InvalidRequest(
            "customer_id: one of customer_id or partner_customer_id is required",
            "partner_customer_id: one of customer_id or partner_customer_id is required",
        )
    found = None
    if customer_id is not None:
        canonical = canonical_id(customer_id)
        found = await repos.get_partner_customer(partner_id, canonical) if canonical else None
        if found is None:
            raise CustomerNotFound(customer_id)
        if partner_customer_id is not None and found.partner_customer_id != partner_customer_id:
            raise InvalidRequest(
                "customer_id: names a different customer than partner_customer_id",
                "partner_customer_id: names a different customer than customer_id",
            )
        return found
    assert partner_customer_id is not None
    page = await repos.list_partner_customers(
        partner_id, CustomerQuery(partner_customer_id=partner_customer_id), PageRequest(limit=1)
    )
    if page is None or not page.items:
        raise CustomerNotFound(partner_customer_id, param="partner_customer_id")
    return page.items[0]


def _application_input(customer: Customer) -> ApplicationInput:
    contact = {
        field: profile_value(customer, field) or placeholder
        for field, placeholder in _PLACEHOLDERS.items()
    }
    return ApplicationInput(
        type="CARD",
        ssn4="0000",
        housing_type="RENT",
        housing_cost=150_000,
        housing_currency=DEFAULT_CURRENCY,
        income_type="EMPLOYED",
        income_amount=9_000_000,
        income_currency=DEFAULT_CURRENCY,
        **contact,
    )


async def simulate_application(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    principal: Principal,
    merchant_key: str | None,
    ttl_seconds: int,
    status: SimulatedStatus,
    customer_id: str | None = None,
    partner_customer_id: str | None = None,
    audit: AuditContext = audit_trail.SYSTEM,
) -> SimulatedApplication:
    """Drive the customer's application to ``status`` (see the module docstring); the session
    it starts is recorded as ``audit``'s actor's."""
    customer = await _customer(repos, principal.partner_id, customer_id, partner_customer_id)
    session = await customer_sessions.create_customer_session(
        repos,
        clock=clock,
        box=box,
        principal=principal,
        merchant_key=merchant_key,
        ttl_seconds=ttl_seconds,
        customer_id=customer.id,
        source="simulate_application",
        audit=audit,
    )
    context = await repos.get_client_context(
        session.id, customer_id=customer.id, partner_id=principal.partner_id
    )
    assert context is not None  # created just now, in this transaction
    client = ClientPrincipal(
        claims=ClientTokenClaims(
            customer_session_id=session.id,
            customer_id=customer.id,
            partner_id=principal.partner_id,
            expires_at=session.expires_at,
        ),
        context=context,
    )
    if status == REJECTED:
        rejected = await applications.record_decision(
            repos,
            principal=client,
            clock=clock,
            application=_application_input(customer),
            decision=Decision(REJECTED, None, SIMULATED_REASON),
        )
        return SimulatedApplication(customer, rejected, None)
    offer_open = await repos.get_latest_application(customer.id)
    if offer_open is None or offer_open.status != APPROVED:
        offer = Offer(
            currency=DEFAULT_CURRENCY, apr=SANDBOX_CARD_APR, credit_limit=SANDBOX_CARD_CREDIT_LIMIT
        )
        offer_open = await applications.record_decision(
            repos,
            principal=client,
            clock=clock,
            application=_application_input(customer),
            decision=Decision(APPROVED, offer, SIMULATED_REASON),
        )
    accepted, payment_method = await applications.accept_offer(
        repos, principal=client, clock=clock, application_id=offer_open.id
    )
    return SimulatedApplication(customer, accepted, payment_method)


# -- events on demand ------------------------------------------------------------------------------
_TAKES: Final = {
    events.APPLICATION: ("status",),
    events.PAYMENT_METHOD: ("payment_method_id", "previous_status", "new_status"),
}
_REQUIRES: Final = {events.APPLICATION: "status", events.PAYMENT_METHOD: "new_status"}


async def fire_webhook_event(
    repos: Repositories,
    *,
    clock: Clock,
    principal: Principal,
    merchant_key: str | None,
    event_type: str,
    customer_id: str | None = None,
    partner_customer_id: str | None = None,
    status: str | None = None,
    payment_method_id: str | None = None,
    previous_status: str | None = None,
    new_status: str | None = None,
) -> WebhookEvent:
    """Record one ``event_type`` event for one of the partner's customers (404 otherwise), and a
    delivery to each of its endpoints subscribed to it; the stored state is not changed.

    ``APPLICATION`` reports ``status`` for the customer's latest application (its start time;
    now if it has none). ``PAYMENT_METHOD`` reports ``previous_status`` -> ``new_status`` of
    the customer's payment method ``payment_method_id`` (default: its newest; 404 if it has
    none). Call inside a unit of work: the event and its deliveries commit together.
    """
    given = {
        "status": status,
        "payment_method_id": payment_method_id,
        "previous_status": previous_status,
        "new_status": new_status,
    }
    problems = [
        f"{name}: only with type {other}"
        for other, names in _TAKES.items()
        if other != event_type
        for name in names
        if given[name] is not None
    ]
    required = _REQUIRES.get(event_type)
    if required is None:
        problems.append(f"type: must be one of {', '.join(events.EVENT_TYPES)}")
    elif given[required] is None:
        problems.append(f"{required}: required with type {event_type}")
    if problems:
        raise InvalidRequest(*problems)
    customer = await _customer(repos, principal.partner_id, customer_id, partner_customer_id)
    now = clock.now_ms()
    if event_type == events.APPLICATION:
        assert status is not None
        latest = await repos.get_latest_application(customer.id)
        metadata = json.loads(customer.metadata_json) if customer.metadata_json else None
        data = events.application_event_data(
            customer_id=customer.id,
            partner_customer_id=customer.partner_customer_id,
            status=status,
            created_at=latest.created_at if latest is not None else now,
            updated_at=now,
            merchant_key=merchant_key,
            customer_metadata=metadata or None,
        )
        return await events.record_event(
            repos, partner_id=principal.partner_id, event_type=event_type, data=data, now=now
        )
    assert new_status is not None
    payment_method = await _payment_method(repos, customer, payment_method_id)
    return await events.record_payment_method_change(
        repos,
        payment_method=replace(payment_method, status=new_status, updated_at=now),
        previous_status=previous_status,
        merchant_key=merchant_key,
        now=now,
    )


async def _payment_method(
    repos: Repositories, customer: Customer, payment_method_id: str | None
) -> PaymentMethod:
    if payment_method_id is None:
        owned = await repos.list_payment_methods(customer.id)
        if not owned:
            raise NotFound(
                "PAYMENT_METHOD_NOT_FOUND_ERROR",
                "The customer has no payment method (simulate_application can make one)",
                "payment_method_id",
            )
        return owned[-1]
    canonical = canonical_id(payment_method_id)
    found = (
        await repos.get_payment_method(canonical, customer_id=customer.id) if canonical else None
    )
    if found is None:
        raise PaymentMethodNotFound(payment_method_id)
    return found
