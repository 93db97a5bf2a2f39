"""The client side of a customer session: the one-time exchange of its secret for a short-lived
client credential, and authenticating that credential on every client API call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from imprint_sessions.clock import Clock, follow_test_clock
from imprint_sessions.credentials import ClientTokenClaims, SecretBox
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain.customer_sessions import (
    ACTIVE,
    CONSUMED,
    EXPIRED,
    REVOKED,
    customer_session_state,
)
from imprint_sessions.errors import ClientCredentialRequired, InvalidClientSecret
from imprint_sessions.storage.records import (
    AuditContext,
    ClientContext,
    Customer,
    CustomerSession,
    Partner,
)
from imprint_sessions.storage.repositories import Repositories

_CLIENT = audit_trail.client_actor()


@dataclass(frozen=True, slots=True)
class IssuedClientToken:
    access_token: str
    expires_at: int
    customer_session_id: str


@dataclass(frozen=True, slots=True)
class ClientPrincipal:
    """Who a client credential speaks for: one live session of one customer of one partner."""

    claims: ClientTokenClaims
    context: ClientContext

    @property
    def customer_session_id(self) -> str:
        return self.claims.customer_session_id

    @property
    def customer_id(self) -> str:
        return self.claims.customer_id

    @property
    def partner_id(self) -> str:
        return self.claims.partner_id

    @property
    def customer(self) -> Customer:
        return self.context.customer


async def exchange_client_secret(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    client_secret: str,
    ttl_seconds: int,
    unsafe_racy: bool = False,
    audit: AuditContext = _CLIENT,
    test_clocks: bool = False,
) -> IssuedClientToken:
    """Consume the secret (once, atomically) and mint a credential bound to its session.

    Malformed, forged, unknown, expired, revoked and already-used secrets are one error. A
    secret whose MAC does not verify never reaches the database (nor the audit trail: nothing
    ties it to a partner). The exchange writes ``customer_session.exchanged`` with the consume;
    a refused genuine secret, ``customer_session.exchange_refused`` with the reason.
    ``unsafe_racy`` is the reliability tests' negative control (``IMPRINT_UNSAFE_RACY_EXCHANGE``,
    sandbox only). ``test_clocks`` (the sandbox): the secret expires, and the credential's life
    starts, by the test clock of the session's partner if it has one (``domain/test_clocks.py``).
    """
    customer_session_id = box.verify_client_secret(client_secret)
    if customer_session_id is None:
        raise InvalidClientSecret()
    now = clock.now_ms()
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.CUSTOMER_SESSION_EXCHANGED,
        object_type="customer_session",
        object_id=customer_session_id,
        at=now,
    )
    if unsafe_racy:
        consumed = await _consume_racily(repos, customer_session_id, now=now)
        if consumed is not None:  # not atomic with the write above: this path is the bug
            await repos.record_audit_event(replace(entry, partner_id=consumed.partner_id))
    else:
        consumed = await repos.consume_customer_session(
            customer_session_id, now=now, audit=entry, test_clocks=test_clocks
        )
    if consumed is None:
        reason = await _record_refusal(
            repos, customer_session_id, now=now, audit=audit, test_clocks=test_clocks
        )
        raise InvalidClientSecret(reason)
    # The credential outlives the secret on purpose: a customer who opens the page a minute
    # before the secret expires still has the whole credential lifetime to finish. Its life
    # starts when the exchange took place (a test clock's time, where the partner has one).
    started = now if consumed.consumed_at is None else consumed.consumed_at
    expires_at = started + ttl_seconds * 1000
    token = box.client_token(
        customer_session_id=consumed.id,
        customer_id=consumed.customer_id,
        partner_id=consumed.partner_id,
        expires_at=expires_at,
    )
    return IssuedClientToken(
        access_token=token, expires_at=expires_at, customer_session_id=consumed.id
    )


async def partner_of_client_secret(
    repos: Repositories, *, box: SecretBox, client_secret: str | None
) -> Partner | None:
    """The partner behind a genuine ``client_secret``, read without consuming it (the hosted page
    frames itself for that partner's origins before its script exchanges the secret); None when
    the secret is not genuine (it then never reaches the database) or its session is gone."""
    customer_session_id = box.verify_client_secret(client_secret or "")
    if customer_session_id is None:
        return None
    return await repos.get_partner_of_customer_session(customer_session_id)


_REFUSAL_REASONS = {
    REVOKED: audit_trail.REFUSED_REVOKED,
    CONSUMED: audit_trail.REFUSED_ALREADY_USED,
    EXPIRED: audit_trail.REFUSED_EXPIRED,
    # Live again by now (a refusal under the racy negative control): the reason is not known.
    ACTIVE: audit_trail.REFUSED_UNKNOWN,
}


async def _record_refusal(
    repos: Repositories,
    customer_session_id: str,
    *,
    now: int,
    audit: AuditContext,
    test_clocks: bool = False,
) -> str:
    """``customer_session.exchange_refused`` for a genuine secret, with why: the session's state
    (revoked over already used over expired, as ``customer_session_state`` says), or ``unknown``
    when the session is gone (its partner was deleted); the trail still names the partner then,
    from the session's ``customer_session.created`` entry. With no partner to name (a session
    from before the trail), nothing is recorded. Returns the reason."""
    found = await repos.find_customer_session(customer_session_id)
    if found is not None:
        partner_id: str | None = found.partner_id
        if test_clocks:  # judged, and recorded, at the time of the partner's test clock
            clocked = await repos.get_test_clock_at(found.partner_id)
            now = now if clocked is None else clocked
        reason = _REFUSAL_REASONS[customer_session_state(found, now=now)]
    else:
        partner_id = await repos.partner_of_audited_object(
            customer_session_id, type=audit_trail.CUSTOMER_SESSION_CREATED
        )
        reason = audit_trail.REFUSED_UNKNOWN
    if partner_id is None:
        return reason
    await repos.record_audit_event(
        audit_trail.new_event(
            audit,
            type=audit_trail.CUSTOMER_SESSION_EXCHANGE_REFUSED,
            object_type="customer_session",
            object_id=customer_session_id,
            at=now,
            partner_id=partner_id,
            details={"reason": reason},
        )
    )
    return reason


RACY_WINDOW_SECONDS = 0.05


async def _consume_racily(
    repos: Repositories, customer_session_id: str, *, now: int
) -> CustomerSession | None:
    """The bug the one-statement consume exists to prevent, built on purpose so the exactly-once
    test can be seen to fail: read, check, wait, then write without re-checking."""
    partner = await repos.get_partner_of_customer_session(customer_session_id)
    found = await repos.get_customer_session(partner.id, customer_session_id) if partner else None
    if found is None or found.consumed_at is not None or found.revoked_at is not None:
        return None
    if found.expires_at <= now:
        return None
    await asyncio.sleep(RACY_WINDOW_SECONDS)  # widens the window between the check and the act
    await repos.mark_customer_session_consumed_unchecked(customer_session_id, now=now)
    return found


async def authenticate_client(
    repos: Repositories, *, clock: Clock, box: SecretBox, access_token: str | None
) -> ClientPrincipal:
    """The principal of a genuine, unexpired credential whose session is not revoked.

    The revocation check is the same read that loads the session and the customer every client
    call needs, so it costs nothing extra.
    """
    claims = box.verify_client_token(access_token)
    if claims is None:
        raise ClientCredentialRequired()
    # Expiry is checked after the read: a sandbox's test clock, which the read returns, says when.
    context = await repos.get_client_context(
        claims.customer_session_id, customer_id=claims.customer_id, partner_id=claims.partner_id
    )
    if context is None:
        raise ClientCredentialRequired()
    follow_test_clock(context.test_clock_at)  # a sandbox's clock, if any, for the rest of it
    if claims.expires_at <= clock.now_ms():
        raise ClientCredentialRequired()
    return ClientPrincipal(claims=claims, context=context)
