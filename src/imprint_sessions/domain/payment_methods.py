"""Payment methods: the card or loan an accepted offer creates, and locking a card.

Each change of a payment method happens in one function, inside the caller's unit of work, so
the partner's ``PAYMENT_METHOD`` webhook events can join the same transaction:
``create_for_offer`` (creation) and ``set_card_lock`` (ACTIVE <-> INACTIVE). The partner API
reads them with ``list_for_partner_customer`` and ``get_for_partner``.
"""

from __future__ import annotations

import secrets
from typing import Final

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import canonical_id, new_id
from imprint_sessions.domain import events
from imprint_sessions.domain.client_sessions import ClientPrincipal
from imprint_sessions.domain.decisions import Offer
from imprint_sessions.domain.profiles import dumps
from imprint_sessions.errors import (
    CustomerNotFound,
    InvalidRequest,
    PaymentMethodNotFound,
    PaymentMethodStateConflict,
)
from imprint_sessions.storage.records import (
    Application,
    Page,
    PageRequest,
    PaymentMethod,
    Principal,
)
from imprint_sessions.storage.repositories import Repositories

ACTIVE: Final = "ACTIVE"
INACTIVE: Final = "INACTIVE"
CARD_NETWORK: Final = "VISA"
CARD_TYPE: Final = "VIRTUAL"


async def create_for_offer(
    repos: Repositories, *, application: Application, offer: Offer, program: str, now: int
) -> PaymentMethod:
    """The payment method an accepted offer creates: a virtual VISA card (only ``last4`` of a
    number exists: no full number or CVV is ever generated) or a loan."""
    card = loan = None
    if application.type == "CARD":
        card = {
            "last4": f"{secrets.randbelow(10_000):04d}",
            "network": CARD_NETWORK,
            "card_type": CARD_TYPE,
            "card_design_id": program,
        }
    else:
        loan = {
            "amount": offer.amount,
            "currency": offer.currency,
            "remaining_balance": offer.amount,
            "term_months": offer.term_months,
            "apr": offer.apr,
            "loan_status": ACTIVE,
        }
    payment_method = PaymentMethod(
        id=new_id(),
        partner_id=application.partner_id,
        customer_id=application.customer_id,
        application_id=application.id,
        type=application.type,
        status=ACTIVE,
        card_json=dumps(card) if card else None,
        loan_json=dumps(loan) if loan else None,
        metadata_json=None,
        created_at=now,
        updated_at=now,
    )
    await repos.insert_payment_method(payment_method)
    return payment_method


async def list_payment_methods(
    repos: Repositories, *, principal: ClientPrincipal
) -> list[PaymentMethod]:
    return await repos.list_payment_methods(principal.customer_id)


async def set_card_lock(
    repos: Repositories,
    *,
    principal: ClientPrincipal,
    clock: Clock,
    payment_method_id: str,
    locked: bool,
) -> PaymentMethod:
    """Lock (INACTIVE) or unlock (ACTIVE) one of the customer's cards; already so is a no-op.

    Another customer's card is not found; a loan or a canceled card is a conflict.
    """
    canonical = canonical_id(payment_method_id)
    current = (
        await repos.get_payment_method(canonical, customer_id=principal.customer_id)
        if canonical
        else None
    )
    if current is None:
        raise PaymentMethodNotFound(payment_method_id)
    target, source = (INACTIVE, ACTIVE) if locked else (ACTIVE, INACTIVE)
    if current.type != "CARD":
        raise PaymentMethodStateConflict(current.id, "is not a card: only cards can be locked")
    if current.status == target:
        return current
    if current.status != source:
        raise PaymentMethodStateConflict(current.id, f"is {current.status}")
    changed = await repos.change_payment_method_status(
        current.id,
        customer_id=principal.customer_id,
        from_status=source,
        to_status=target,
        now=clock.now_ms(),
    )
    if changed is None:  # changed by a concurrent request: report what it is now
        now_is = await repos.get_payment_method(current.id, customer_id=principal.customer_id)
        assert now_is is not None
        if now_is.status != target:
            raise PaymentMethodStateConflict(current.id, f"is {now_is.status}")
        return now_is
    await events.record_payment_method_change(
        repos,
        payment_method=changed,
        previous_status=source,
        merchant_key=None,
        now=changed.updated_at,
    )
    return changed


# -- the partner API's reads (issue 5) ------------------------------------------------------------


async def list_for_partner_customer(
    repos: Repositories, *, principal: Principal, customer_id: str, page: PageRequest
) -> Page[PaymentMethod]:
    """The payment methods of one of the caller's customers, oldest first."""
    canonical = canonical_id(customer_id)
    customer = (
        await repos.get_partner_customer(principal.partner_id, canonical) if canonical else None
    )
    if customer is None:
        raise CustomerNotFound(customer_id)
    found = await repos.list_payment_methods_for_partner_customer(
        principal.partner_id, customer.id, page
    )
    if found is None:
        raise InvalidRequest(
            "starting_after: must be the id of one of this customer's payment methods"
        )
    return found


async def get_for_partner(
    repos: Repositories, *, principal: Principal, payment_method_id: str
) -> PaymentMethod:
    """One of the caller's customers' payment methods; anything else is not found."""
    canonical = canonical_id(payment_method_id)
    found = (
        await repos.get_payment_method_for_partner(principal.partner_id, canonical)
        if canonical
        else None
    )
    if found is None:
        raise PaymentMethodNotFound(payment_method_id)
    return found
