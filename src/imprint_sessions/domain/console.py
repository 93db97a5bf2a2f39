"""What the operator console shows and does, over any partner's account.

Reads never carry a secret: a session's state but never its client secret, a customer with
its contact details masked and only the last four SSN digits (the full SSN is never stored),
an API key by its display prefix. The two actions, revoking a key and replaying a webhook
delivery, are the same domain functions the CLI and the partner API call, recorded in the
partner's audit trail with the operator as actor (``audit.console_operator_actor``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import canonical_id
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain import partners as partners_domain
from imprint_sessions.domain import webhooks as webhooks_domain
from imprint_sessions.domain.customer_sessions import customer_session_state
from imprint_sessions.domain.events import PENDING
from imprint_sessions.errors import ApiKeyNotFound, PartnerNotFound
from imprint_sessions.storage.records import (
    ApiKey,
    Application,
    AuditContext,
    AuditEvent,
    CustomerSession,
    Page,
    Partner,
    WebhookAttempt,
    WebhookDelivery,
)
from imprint_sessions.storage.repositories import Repositories

RECENT = 50
"""How many of the newest rows each console list shows."""
AUDIT_PAGE_SIZE = 50
MASK = "\u2022"  # a bullet: what a masked character shows as


@dataclass(frozen=True, slots=True)
class SessionRow:
    session: CustomerSession
    state: str  # active | consumed | expired | revoked


@dataclass(frozen=True, slots=True)
class MaskedCustomer:
    """A customer as an operator sees one: enough to recognise, not enough to contact."""

    id: str
    partner_customer_id: str | None
    name: str | None
    email: str | None
    phone: str | None
    ssn: str | None
    phone_verified: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    application: Application
    offer: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    delivery: WebhookDelivery
    event_type: str
    attempts: list[WebhookAttempt]
    replayable: bool


def mask_email(email: str | None) -> str | None:
    """``j•••@example.com``: the first character of the local part and the domain."""
    if not email:
        return None
    local, at, domain = email.partition("@")
    if not at:
        return MASK * 3
    return f"{local[:1]}{MASK * 3}@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """``+1•••••••4567``: the country's ``+`` and first digit, and the last four digits."""
    if not phone:
        return None
    if len(phone) <= 6:
        return MASK * len(phone)
    return phone[:2] + MASK * (len(phone) - 6) + phone[-4:]


def mask_ssn(ssn4: str | None) -> str | None:
    """``•••-••-1234``: the last four digits, all that is ever stored."""
    return f"{MASK * 3}-{MASK * 2}-{ssn4}" if ssn4 else None


def mask_name(first: str | None, last: str | None) -> str | None:
    """The first name and the last name's initial."""
    parts = [p for p in (first, f"{last[:1]}." if last else None) if p]
    return " ".join(parts) or None


async def list_partners(repos: Repositories) -> list[Partner]:
    """Every partner an operator may pick (sandboxes made by partners aside)."""
    return await partners_domain.list_partners(repos)


async def get_partner(repos: Repositories, *, partner_id: str) -> Partner:
    """The partner a console page is about; 404 when ``partner_id`` names none."""
    found = await partners_domain.get_partner(repos, partner_id=partner_id)
    if found is None:
        raise PartnerNotFound(partner_id)
    return found


async def recent_sessions(
    repos: Repositories, *, clock: Clock, partner_id: str, limit: int = RECENT
) -> list[SessionRow]:
    """The partner's newest customer sessions with their states (no secret: none is stored)."""
    now = clock.now_ms()
    found = await repos.list_recent_customer_sessions(partner_id, limit=limit)
    return [SessionRow(s, customer_session_state(s, now=now)) for s in found]


async def recent_customers(
    repos: Repositories, *, partner_id: str, limit: int = RECENT
) -> list[MaskedCustomer]:
    """The partner's newest customers, masked."""
    return [
        MaskedCustomer(
            id=c.id,
            partner_customer_id=c.partner_customer_id,
            name=mask_name(c.first_name, c.last_name),
            email=mask_email(c.email),
            phone=mask_phone(c.phone),
            ssn=mask_ssn(c.ssn4),
            phone_verified=c.phone_verified_at is not None,
            created_at=c.created_at,
        )
        for c in await repos.list_recent_customers(partner_id, limit=limit)
    ]


async def recent_applications(
    repos: Repositories, *, partner_id: str, limit: int = RECENT
) -> list[ApplicationRow]:
    """The partner's newest applications with their decisions and offers (never the
    applicant's answers: income, housing, SSN digits)."""
    return [
        ApplicationRow(a, json.loads(a.offer_json) if a.offer_json else None)
        for a in await repos.list_recent_applications(partner_id, limit=limit)
    ]


async def recent_deliveries(
    repos: Repositories, *, partner_id: str, limit: int = RECENT
) -> list[DeliveryRow]:
    """The partner's newest webhook deliveries, each with every attempt (status code, latency,
    error), and whether it may be replayed (delivered or dead; a pending one retries itself)."""
    found = await repos.list_recent_webhook_deliveries(partner_id, limit=limit)
    attempts = await repos.list_webhook_attempts([d.id for d, _ in found])
    by_delivery: dict[str, list[WebhookAttempt]] = {d.id: [] for d, _ in found}
    for attempt in attempts:
        by_delivery[attempt.delivery_id].append(attempt)
    return [
        DeliveryRow(d, event_type, by_delivery[d.id], d.status != PENDING)
        for d, event_type in found
    ]


async def api_keys(repos: Repositories, *, partner_id: str) -> list[ApiKey]:
    """The partner's keys by display prefix, revoked ones included."""
    return await partners_domain.list_api_keys(repos, partner_id=partner_id)


async def audit_page(
    repos: Repositories,
    *,
    partner_id: str,
    types: Iterable[str] = (),
    starting_after: str | None = None,
    limit: int = AUDIT_PAGE_SIZE,
) -> Page[AuditEvent]:
    """The partner's audit trail, newest first, filtered by type; ``starting_after``: the last
    entry of the page before (the partner API's list rules)."""
    return await audit_trail.list_audit_events(
        repos,
        partner_id=partner_id,
        query=audit_trail.audit_query(types=types),
        limit=limit,
        starting_after=starting_after or None,
        newest_first=True,
    )


async def revoke_api_key(
    repos: Repositories, *, clock: Clock, partner_id: str, api_key_id: str, audit: AuditContext
) -> None:
    """Revoke one of the partner's active keys (its last one too: how a leak is stopped);
    recorded as ``api_key.revoked`` by the operator. 404 when it is not an active key of the
    partner's."""
    owned = {k.id for k in await api_keys(repos, partner_id=partner_id) if k.revoked_at is None}
    canonical = canonical_id(api_key_id)
    if canonical not in owned or not await partners_domain.revoke_api_key(
        repos, clock=clock, api_key_id=api_key_id, audit=audit
    ):
        raise ApiKeyNotFound(api_key_id)


async def replay_delivery(
    repos: Repositories, *, clock: Clock, partner_id: str, delivery_id: str, audit: AuditContext
) -> WebhookDelivery:
    """Send a delivered or dead delivery of the partner's again (``replay_webhook_delivery``'s
    rules), recorded as ``webhook_delivery.replay_requested`` by the operator."""
    return await webhooks_domain.replay_webhook_delivery(
        repos, clock=clock, partner_id=partner_id, delivery_id=delivery_id, audit=audit
    )
