"""Customer sessions: create (find or create the customer), retrieve, list a customer's, expire."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, new_id
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.errors import CustomerNotFound, InvalidRequest, SessionNotFound
from imprint_sessions.storage.records import (
    AuditContext,
    CreateOutcome,
    CustomerSession,
    NewCustomer,
    NewCustomerSession,
    Page,
    PageRequest,
    Principal,
)
from imprint_sessions.storage.repositories import Repositories

DEFAULT_CURRENCY = "USD"
# Fields of customer_history that become the profile of a customer the session creates.
_PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "preferred_language")


@dataclass(frozen=True, slots=True)
class IssuedCustomerSession:
    """What the partner gets back: the seed's ``CustomerSession``."""

    id: str
    client_secret: str
    expires_at: int
    metadata_json: str | None
    source: str | None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _canonical_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value)).upper()
    except ValueError:
        return None


def _new_customer(history: dict[str, Any] | None) -> NewCustomer:
    customer_id = new_id()
    if not history:
        return NewCustomer(id=customer_id)
    account = {k: v for k, v in history.items() if k not in _PROFILE_FIELDS and k != "address"}
    address = history.get("address")
    return NewCustomer(
        id=customer_id,
        email=history.get("email"),
        phone=history.get("phone"),
        first_name=history.get("first_name"),
        last_name=history.get("last_name"),
        preferred_language=history.get("preferred_language"),
        address_json=_dumps(address) if address else None,
        account_history_json=_dumps(account) if account else None,
    )


async def create_customer_session(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    principal: Principal,
    merchant_key: str | None,
    ttl_seconds: int,
    customer_id: str | None = None,
    partner_customer_id: str | None = None,
    transaction_amount: int | None = None,
    transaction_currency: str | None = None,
    customer_history: dict[str, Any] | None = None,
    source: str | None = None,
    metadata: dict[str, Any] | None = None,
    audit: AuditContext = audit_trail.SYSTEM,
) -> IssuedCustomerSession:
    """Find or create the customer and start a session for it, in one atomic write (with its
    ``customer_session.created`` entry, by ``audit``'s actor).

    - ``customer_id`` must be the caller's own customer (another partner's is "not found");
    - ``partner_customer_id`` finds or creates that partner's customer (race-free);
    - both given must name the same customer; neither creates a new customer;
    - ``customer_history`` fills the profile of a customer created here and is always kept with
      the session (for the application it leads to); an existing profile is never overwritten.
    """
    canonical_customer_id = None
    if customer_id is not None:
        canonical_customer_id = _canonical_uuid(customer_id)
        if canonical_customer_id is None:
            raise CustomerNotFound(customer_id)
    if transaction_amount is not None and transaction_currency is None:
        transaction_currency = DEFAULT_CURRENCY
    now = clock.now_ms()
    new = NewCustomerSession(
        id=new_id(),
        partner_id=principal.partner_id,
        customer_id=canonical_customer_id,
        partner_customer_id=partner_customer_id,
        new_customer=_new_customer(customer_history),
        merchant_key=merchant_key,
        secret_key_id=box.current_kid,
        transaction_amount=transaction_amount,
        transaction_currency=transaction_currency,
        customer_history_json=_dumps(customer_history) if customer_history else None,
        source=source,
        metadata_json=_dumps(metadata) if metadata is not None else None,
        created_at=now,
        expires_at=now + ttl_seconds * 1000,
    )
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.CUSTOMER_SESSION_CREATED,
        object_type="customer_session",
        object_id=new.id,
        at=now,
        partner_id=principal.partner_id,
    )
    outcome = await repos.create_customer_session(new, audit=entry)
    if outcome is CreateOutcome.CUSTOMER_NOT_FOUND:
        raise CustomerNotFound(customer_id or "")
    if outcome is CreateOutcome.CUSTOMER_MISMATCH:
        raise InvalidRequest(
            "customer_id: names a different customer than partner_customer_id",
            "partner_customer_id: names a different customer than customer_id",
        )
    secret = box.client_secret(new.id, new.secret_key_id)
    assert secret is not None  # minted with the current key, which is always configured
    return IssuedCustomerSession(
        id=new.id,
        client_secret=secret,
        expires_at=new.expires_at,
        metadata_json=new.metadata_json,
        source=source,
    )


async def get_customer_session(
    repos: Repositories, *, box: SecretBox, principal: Principal, customer_session_id: str
) -> IssuedCustomerSession:
    """The caller's own session, with its client secret re-derived; anything else is not found."""
    canonical = _canonical_uuid(customer_session_id)
    record = (
        await repos.get_customer_session(principal.partner_id, canonical) if canonical else None
    )
    if record is None:
        raise SessionNotFound(customer_session_id)
    secret = box.client_secret(record.id, record.secret_key_id)
    if secret is None:
        # Minted under a master key that has since been retired: it can no longer be verified
        # either, so the session is as good as gone.
        raise SessionNotFound(customer_session_id)
    return IssuedCustomerSession(
        id=record.id,
        client_secret=secret,
        expires_at=record.expires_at,
        metadata_json=record.metadata_json,
        source=record.source,
    )


# -- the lifecycle beyond Imprint's API: list a customer's sessions, expire one ------------------

ACTIVE = "active"
CONSUMED = "consumed"
EXPIRED = "expired"
REVOKED = "revoked"


def customer_session_state(record: CustomerSession, *, now: int) -> str:
    """Why the secret works or not: ``revoked`` over ``consumed`` over ``expired``, else
    ``active`` (the first reason that applies, so a used session stays ``consumed`` once its
    lifetime is over)."""
    if record.revoked_at is not None:
        return REVOKED
    if record.consumed_at is not None:
        return CONSUMED
    if record.expires_at <= now:
        return EXPIRED
    return ACTIVE


async def list_customer_sessions(
    repos: Repositories, *, principal: Principal, customer_id: str, page: PageRequest
) -> Page[CustomerSession]:
    """One of the caller's customers' sessions, oldest first (never their secrets)."""
    canonical = _canonical_uuid(customer_id)
    customer = (
        await repos.get_partner_customer(principal.partner_id, canonical) if canonical else None
    )
    if customer is None:
        raise CustomerNotFound(customer_id)
    found = await repos.list_sessions_of_partner_customer(principal.partner_id, customer.id, page)
    if found is None:
        raise InvalidRequest("starting_after: must be the id of one of this customer's sessions")
    return found


@dataclass(frozen=True, slots=True)
class Expiry:
    """A session after ``expire_customer_session``, and whether that call ended it."""

    customer_session: CustomerSession
    ended_now: bool


async def expire_customer_session(
    repos: Repositories,
    *,
    clock: Clock,
    principal: Principal,
    customer_session_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> Expiry:
    """End one of the caller's sessions now: its secret can no longer be exchanged, and a client
    credential it was exchanged for stops working (``customer_session.expired``). Idempotent: a
    session already revoked or expired is returned as it is (``ended_now`` False), and nothing
    is recorded."""
    canonical = _canonical_uuid(customer_session_id)
    now = clock.now_ms()
    found = (
        await repos.revoke_partner_customer_session(
            principal.partner_id,
            canonical,
            now=now,
            audit=audit_trail.new_event(
                audit,
                type=audit_trail.CUSTOMER_SESSION_EXPIRED,
                object_type="customer_session",
                object_id=canonical,
                at=now,
                partner_id=principal.partner_id,
            ),
        )
        if canonical
        else None
    )
    if found is None:
        raise SessionNotFound(customer_session_id)
    return Expiry(*found)
