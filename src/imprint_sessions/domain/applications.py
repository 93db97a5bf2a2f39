"""Applying for a card or a loan, and accepting the offer.

Each state change happens in one place, inside the caller's unit of work, so whatever else must
happen with it (the partner's webhook events) joins the same transaction:

- ``record_decision``: a new, decided application (APPROVED, PENDING_REVIEW or REJECTED);
- ``resume_application``: an unfinished application moves to the session resuming it;
- ``accept_offer``: APPROVED -> OFFER_ACCEPTED, the payment method created, the program OPEN.

The decision itself may call an external underwriter, so it is taken between
``prepare_application`` (reads only) and ``record_decision``, outside any transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import canonical_id, new_id
from imprint_sessions.domain import events, payment_methods
from imprint_sessions.domain.client_sessions import ClientPrincipal
from imprint_sessions.domain.decisions import (
    ApplicationInput,
    ApplicationType,
    Decision,
    Offer,
    age_on,
    utc_today,
)
from imprint_sessions.domain.profiles import customer_history, dumps, loads, profile_value
from imprint_sessions.errors import ApplicationNotFound, ApplicationStateConflict, InvalidRequest
from imprint_sessions.storage.records import Application, PaymentMethod
from imprint_sessions.storage.repositories import Repositories

MIN_APPLICANT_AGE: Final = 18
DEFAULT_PROGRAM: Final = "default"
DEFAULT_CURRENCY: Final = "USD"
# Contact fields an application needs; missing ones come from the profile, then the history.
_CONTACT_FIELDS: Final = ("first_name", "last_name", "email", "date_of_birth", "address")
REQUIRED_ADDRESS_FIELDS: Final = ("street_line1", "city", "postal_code", "country")


@dataclass(frozen=True, slots=True)
class ApplicationAnswers:
    """What the applicant sent; contact fields may be left out to use the profile's."""

    type: ApplicationType
    ssn4: str
    housing_type: str
    housing_cost: int
    income_type: str
    income_amount: int
    housing_currency: str | None = None
    income_currency: str | None = None
    amount: int | None = None
    term_months: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    address: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PreparedApplication:
    """Either an unfinished application to resume, or a complete one to decide."""

    resumable: Application | None = None
    application: ApplicationInput | None = None


def offer_of(application: Application) -> Offer | None:
    data = loads(application.offer_json)
    return Offer.from_dict(data) if data else None


async def prepare_application(
    repos: Repositories, *, principal: ClientPrincipal, clock: Clock, answers: ApplicationAnswers
) -> PreparedApplication:
    """Check the applicant may apply, find an application to resume, or complete this one.

    The phone must be the profile's, verified. An APPROVED application of the same partner for
    the same phone (from this session or an earlier one) is resumed instead of a new one.
    """
    customer = principal.customer
    phone = customer.phone
    if phone is None or customer.phone_verified_at is None or answers.phone not in (None, phone):
        raise InvalidRequest("phone: must be verified")
    resumable = await repos.find_unfinished_application(principal.partner_id, phone)
    if resumable is not None:
        return PreparedApplication(resumable=resumable)
    history = customer_history(principal.context)
    contact: dict[str, Any] = {}
    missing = []
    for field in _CONTACT_FIELDS:
        value = getattr(answers, field)
        if value is None:
            value = profile_value(customer, field)
        if value is None and field != "date_of_birth":
            value = history.get(field)
        if value is None:
            missing.append(f"{field}: is required")
        contact[field] = value
    address = contact["address"]
    if address is not None:
        missing += [
            f"address.{name}: is required"
            for name in REQUIRED_ADDRESS_FIELDS
            if not address.get(name)
        ]
    if missing:
        raise InvalidRequest(*missing)
    if age_on(contact["date_of_birth"], utc_today(clock)) < MIN_APPLICANT_AGE:
        raise InvalidRequest(f"date_of_birth: the applicant must be at least {MIN_APPLICANT_AGE}")
    application = ApplicationInput(
        type=answers.type,
        ssn4=answers.ssn4,
        housing_type=answers.housing_type,
        housing_cost=answers.housing_cost,
        housing_currency=answers.housing_currency or DEFAULT_CURRENCY,
        income_type=answers.income_type,
        income_amount=answers.income_amount,
        income_currency=answers.income_currency or DEFAULT_CURRENCY,
        amount=answers.amount if answers.type == "LOAN" else None,
        term_months=answers.term_months if answers.type == "LOAN" else None,
        phone=phone,
        customer_history=history,
        **contact,
    )
    return PreparedApplication(application=application)


async def record_decision(
    repos: Repositories,
    *,
    principal: ClientPrincipal,
    clock: Clock,
    application: ApplicationInput,
    decision: Decision,
) -> Application:
    """Store a new application with its decision: the one place a decision is recorded.

    The session's ``customer_history`` is attached to the application. The decision was made
    outside any transaction (an underwriter may be slow), so the check for an unfinished
    application of the same phone is repeated here under a per-phone lock: of two concurrent
    first applications, the second resumes the first's offer instead of making another.
    """
    if application.phone is not None:
        await repos.lock_applications_for_phone(principal.partner_id, application.phone)
        unfinished = await repos.find_unfinished_application(
            principal.partner_id, application.phone
        )
        if unfinished is not None:
            return await resume_application(
                repos, principal=principal, clock=clock, application=unfinished
            )
    now = clock.now_ms()
    record = Application(
        id=new_id(),
        partner_id=principal.partner_id,
        customer_id=principal.customer_id,
        customer_session_id=principal.customer_session_id,
        merchant_key=principal.context.merchant_key,
        type=application.type,
        status=decision.status,
        phone=application.phone,
        input_json=dumps(application.answers()),
        customer_history_json=principal.context.customer_history_json,
        offer_json=dumps(decision.offer.as_dict()) if decision.offer else None,
        decision_reason=decision.reason,
        created_at=now,
        updated_at=now,
        decided_at=now,
    )
    await repos.insert_application(record)
    # A REJECTED decision is terminal: its APPLICATION webhook commits with it (or not at all).
    await events.record_application_decision(repos, application=record, now=now)
    return record


async def resume_application(
    repos: Repositories, *, principal: ClientPrincipal, clock: Clock, application: Application
) -> Application:
    """Move an unfinished application to this session and customer, at its offer stage.

    The same partner and a verified phone are what tie the two: whoever proves the phone picks
    up the offer, and from then on it is this customer's (every read is by customer).
    """
    resumed = await repos.reattach_application(
        application.id,
        customer_id=principal.customer_id,
        customer_session_id=principal.customer_session_id,
        now=clock.now_ms(),
    )
    if resumed is None:  # accepted elsewhere a moment ago
        raise ApplicationStateConflict(application.id, "no longer APPROVED")
    return resumed


async def latest_application(
    repos: Repositories, *, principal: ClientPrincipal
) -> Application | None:
    """The customer's newest application (a resumed one counts as the resuming customer's)."""
    return await repos.get_latest_application(principal.customer_id)


async def current_application(repos: Repositories, *, principal: ClientPrincipal) -> Application:
    latest = await latest_application(repos, principal=principal)
    if latest is None:
        raise ApplicationNotFound()
    return latest


async def accept_offer(
    repos: Repositories, *, principal: ClientPrincipal, clock: Clock, application_id: str
) -> tuple[Application, PaymentMethod]:
    """Accept an APPROVED offer: the application, the new payment method and the customer's
    program status change together (the caller's unit of work)."""
    canonical = canonical_id(application_id)
    now = clock.now_ms()
    accepted = (
        await repos.accept_offer(canonical, customer_id=principal.customer_id, now=now)
        if canonical
        else None
    )
    if accepted is None:
        existing = (
            await repos.get_application(canonical, customer_id=principal.customer_id)
            if canonical
            else None
        )
        if existing is None:
            raise ApplicationNotFound(application_id)
        raise ApplicationStateConflict(existing.id, existing.status)
    offer = offer_of(accepted)
    assert offer is not None  # APPROVED always carries its offer
    program = accepted.merchant_key or DEFAULT_PROGRAM
    payment_method = await payment_methods.create_for_offer(
        repos, application=accepted, offer=offer, program=program, now=now
    )
    await repos.open_customer_program(principal.customer_id, program, now=now)
    await events.record_application_decision(repos, application=accepted, now=now)
    await events.record_payment_method_change(
        repos,
        payment_method=payment_method,
        previous_status=None,
        merchant_key=accepted.merchant_key,
        now=now,
    )
    return _with_payment_method(accepted, payment_method.id), payment_method


def _with_payment_method(application: Application, payment_method_id: str) -> Application:
    values = {name: getattr(application, name) for name in Application.__dataclass_fields__}
    return Application(**{**values, "payment_method_id": payment_method_id})
