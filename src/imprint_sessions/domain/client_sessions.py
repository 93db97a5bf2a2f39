"""The client side of a customer session: the one-time exchange of its secret for a short-lived
client credential, and authenticating that credential on every client API call."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import ClientTokenClaims, SecretBox
from imprint_sessions.errors import ClientCredentialRequired, InvalidClientSecret
from imprint_sessions.storage.records import ClientContext, Customer, CustomerSession, Partner
from imprint_sessions.storage.repositories import Repositories


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
) -> IssuedClientToken:
    """Consume the secret (once, atomically) and mint a credential bound to its session.

    Malformed, forged, unknown, expired, revoked and already-used secrets are one error. A
    secret whose MAC does not verify never reaches the database. ``unsafe_racy`` is the
    reliability tests' negative control (``IMPRINT_UNSAFE_RACY_EXCHANGE``, sandbox only).
    """
    customer_session_id = box.verify_client_secret(client_secret)
    if customer_session_id is None:
        raise InvalidClientSecret()
    now = clock.now_ms()
    if unsafe_racy:
        consumed = await _consume_racily(repos, customer_session_id, now=now)
    else:
        consumed = await repos.consume_customer_session(customer_session_id, now=now)
    if consumed is None:
        raise InvalidClientSecret()
    # The credential outlives the secret on purpose: a customer who opens the page a minute
    # before the secret expires still has the whole credential lifetime to finish.
    expires_at = now + ttl_seconds * 1000
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
    if claims is None or claims.expires_at <= clock.now_ms():
        raise ClientCredentialRequired()
    context = await repos.get_client_context(
        claims.customer_session_id, customer_id=claims.customer_id, partner_id=claims.partner_id
    )
    if context is None:
        raise ClientCredentialRequired()
    return ClientPrincipal(claims=claims, context=context)
