"""Verifying the customer's phone with a one-time code.

Sandbox: the code is always ``888888`` and nothing is sent. Production: a random six-digit code
goes through the configured ``OtpSender``. Codes are stored only as keyed hashes, expire, and a
challenge locks after ``MAX_ATTEMPTS`` wrong codes (even a right code is refused after that: the
customer must ask for a new one, at most ``MAX_CHALLENGES_PER_SESSION`` per session).
"""

from __future__ import annotations

from typing import Final, Protocol

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, mint_otp_code, new_id
from imprint_sessions.domain.client_sessions import ClientPrincipal
from imprint_sessions.errors import (
    IncorrectCode,
    InvalidRequest,
    OtpLimitReached,
    OtpLocked,
    ServiceUnavailable,
)
from imprint_sessions.storage.records import OtpChallenge
from imprint_sessions.storage.repositories import Repositories

SANDBOX_CODE: Final = "888888"
MAX_ATTEMPTS: Final = 5
MAX_CHALLENGES_PER_SESSION: Final = 5


class OtpSender(Protocol):
    """Delivers a one-time code to a phone (an SMS gateway). Must never log the code."""

    async def send(self, *, phone: str, code: str) -> None:
        """Deliver ``code``; raise ``ServiceUnavailable`` if it could not be sent."""
        ...


class UnconfiguredOtpSender:
    """Production without ``IMPRINT_OTP_SENDER_URL``: refuses, rather than pretend it sent."""

    async def send(self, *, phone: str, code: str) -> None:
        raise ServiceUnavailable("phone: verification codes cannot be sent at the moment")


async def start_verification(
    repos: Repositories,
    *,
    principal: ClientPrincipal,
    clock: Clock,
    box: SecretBox,
    sender: OtpSender,
    sandbox: bool,
    ttl_seconds: int,
) -> int:
    """Issue a code for the profile's phone; returns when it expires."""
    phone = principal.customer.phone
    if phone is None:
        raise InvalidRequest("phone: is required; add it to the profile first")
    code = SANDBOX_CODE if sandbox else mint_otp_code()
    now = clock.now_ms()
    challenge_id = new_id()
    challenge = OtpChallenge(
        id=challenge_id,
        customer_session_id=principal.customer_session_id,
        customer_id=principal.customer_id,
        phone=phone,
        code_hash=box.otp_code_hash(challenge_id, code),
        attempts=0,
        created_at=now,
        expires_at=now + ttl_seconds * 1000,
        verified_at=None,
        locked_at=None,
    )
    if not await repos.create_otp_challenge(challenge, max_per_session=MAX_CHALLENGES_PER_SESSION):
        raise OtpLimitReached()
    if not sandbox:
        await sender.send(phone=phone, code=code)
    return challenge.expires_at


async def confirm_verification(
    repos: Repositories, *, principal: ClientPrincipal, clock: Clock, box: SecretBox, code: str
) -> None:
    """Check ``code`` against the session's latest challenge; on a match the phone is verified.

    Every attempt is counted by one atomic write that commits on its own (a wrong code must
    count even though the request fails), so concurrent guesses cannot exceed ``MAX_ATTEMPTS``.
    """
    challenge = await repos.get_latest_otp_challenge(principal.customer_session_id)
    if challenge is None:
        raise InvalidRequest("code: no code was requested; request one first")
    now = clock.now_ms()
    _refuse_closed(challenge, now)
    matched = box.otp_code_matches(challenge.id, code, challenge.code_hash)
    attempt = await repos.record_otp_attempt(
        challenge.id, matched=matched, now=now, max_attempts=MAX_ATTEMPTS
    )
    if attempt is None:  # closed by a concurrent attempt (or expired) since it was read
        latest = await repos.get_latest_otp_challenge(principal.customer_session_id)
        _refuse_closed(latest or challenge, now)
        raise OtpLocked()
    if attempt.locked:
        raise OtpLocked()
    if not attempt.verified:
        raise IncorrectCode(remaining_attempts=MAX_ATTEMPTS - attempt.attempts)
    if not attempt.phone_verified:
        raise InvalidRequest("phone: changed after the code was sent; request a new code")


def _refuse_closed(challenge: OtpChallenge, now: int) -> None:
    if challenge.locked_at is not None:
        raise OtpLocked()
    if challenge.verified_at is not None:
        raise InvalidRequest("code: has already been used; request a new code")
    if challenge.expires_at <= now:
        raise InvalidRequest("code: has expired; request a new code")
