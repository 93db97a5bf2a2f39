"""Idempotency keys: claim a key for one request, record its response, replay that on a retry.

The rules (README, "Idempotency"):

- a key belongs to one partner, is 1 to 255 printable ASCII characters and lives
  ``idempotency_ttl_seconds`` (24 h by default); after that it counts as never used;
- the same key with the same request (method, path and raw body) replays the recorded response;
  with a different request it is a 422; while the first request is still running, a 409;
- only successful (2xx) responses are recorded. An error response means the request changed
  nothing, so its key is released and may be retried, with the same body or a corrected one;
- a response is recorded without its client secrets: each is cut out and re-derived from its
  session id on replay, so the table holds nothing a caller could use. Any other credential
  (an API key, a webhook signing secret, a client access token) cannot be re-derived: a route
  returning one must not take the Idempotency-Key, and recording one is refused (a 500).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass

from imprint_sessions.clock import Clock, wall_ms
from imprint_sessions.credentials import SecretBox
from imprint_sessions.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidRequest,
    ServiceUnavailable,
)
from imprint_sessions.logs import API_KEY_RE, CLIENT_ACCESS_TOKEN_RE, WEBHOOK_SECRET_RE
from imprint_sessions.storage.records import IdempotencyClaim, StoredResponse
from imprint_sessions.storage.repositories import Repositories

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
# An in-flight claim older than this belongs to a request that can no longer be running (its
# process died mid-request): the key is taken over. Far longer than any request may take.
IN_FLIGHT_LEASE_MS = 60_000
# Expired records are also swept now and then, by a claim (about 1 in SWEEP_ONE_IN), in batches.
SWEEP_ONE_IN = 100
SWEEP_BATCH = 1_000

KEY_PATTERN = rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$"  # published as the header's pattern
_KEY_RE = re.compile(KEY_PATTERN)
# A client secret as secrets.SecretBox mints it; each match is verified before it is cut out.
_CLIENT_SECRET_RE = re.compile(r"ics_([0-9a-f]{8})_[A-Za-z0-9_-]{64}")
_OTHER_CREDENTIAL_RE = re.compile(
    "|".join(p.pattern for p in (API_KEY_RE, CLIENT_ACCESS_TOKEN_RE, WEBHOOK_SECRET_RE))
)


@dataclass(frozen=True, slots=True)
class Claim:
    """A key taken for the request being served: it runs once, then ``complete`` or ``release``."""

    partner_id: str
    key: str
    claimed_at: int


class ClaimUncertain(ServiceUnavailable):
    """The database failed during the claim (a 503), which may still take effect: a statement
    the database received before an outage can run after this request gave up on it. The caller
    releases ``claim`` once the database answers, or the key would answer 409 for the lease."""

    def __init__(self, cause: ServiceUnavailable, claim: Claim) -> None:
        super().__init__(*cause.details, retry_after=cause.retry_after)
        self.claim = claim


@dataclass(frozen=True, slots=True)
class Replay:
    """The response recorded for the key, client secrets restored, to be sent again."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def check_key(value: str) -> str:
    """The key as sent, or a 400 when it is not 1 to 255 printable ASCII characters."""
    if _KEY_RE.fullmatch(value) is None:
        raise InvalidRequest(
            f"idempotency-key: must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return value


async def claim(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    partner_id: str,
    key: str,
    request_hash: str,
    ttl_seconds: int,
) -> Claim | Replay:
    """Take ``key`` for this request, or the recorded response to replay; 409 or 422 otherwise."""
    now = clock.now_ms()
    if random.randrange(SWEEP_ONE_IN) == 0:  # before the claim: a failure here leaves no claim
        # Every partner's keys, so by real time: one sandbox's test clock must not steer it.
        await repos.delete_expired_idempotency_keys(now=wall_ms(clock), limit=SWEEP_BATCH)
    try:
        record = await repos.claim_idempotency_key(
            IdempotencyClaim(
                partner_id=partner_id,
                key=key,
                request_hash=request_hash,
                created_at=now,
                expires_at=now + ttl_seconds * 1000,
                stale_before=now - IN_FLIGHT_LEASE_MS,
            )
        )
    except ServiceUnavailable as exc:
        raise ClaimUncertain(exc, Claim(partner_id=partner_id, key=key, claimed_at=now)) from exc
    if record is None:
        return Claim(partner_id=partner_id, key=key, claimed_at=now)
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused()
    if record.response is None:
        raise Conflict(
            "IDEMPOTENCY_KEY_IN_USE",
            "A request with this Idempotency-Key is still being processed; retry it later.",
        )
    log.info("replaying the response recorded for an idempotency key")
    return _replay(box, record.response)


async def complete(
    repos: Repositories,
    taken: Claim,
    *,
    box: SecretBox,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """Record the response of the claimed request, in the unit of work that did its writes.

    If the claim was taken over meanwhile (only after ``IN_FLIGHT_LEASE_MS``), this raises so
    that the unit of work rolls back: the other request's outcome stands.
    """
    text, secrets_json = cut_client_secrets(box, body.decode())
    if _OTHER_CREDENTIAL_RE.search(text):
        raise RuntimeError("refusing to record a response that carries a credential")
    recorded = await repos.complete_idempotency_key(
        taken.partner_id,
        taken.key,
        claimed_at=taken.claimed_at,
        response=StoredResponse(
            status=status,
            headers_json=json.dumps(headers, separators=(",", ":")),
            body=text,
            secrets_json=secrets_json,
        ),
    )
    if not recorded:
        raise Conflict(
            "IDEMPOTENCY_KEY_IN_USE",
            "This Idempotency-Key was taken over by another request; retry it to see its result.",
        )


async def release(repos: Repositories, taken: Claim) -> None:
    """Free the key of a request that failed: it changed nothing, so it may run again."""
    await repos.release_idempotency_key(taken.partner_id, taken.key, claimed_at=taken.claimed_at)


def cut_client_secrets(box: SecretBox, text: str) -> tuple[str, str | None]:
    """``text`` without its client secrets, and where each was: ``[[offset, kid, id], ...]``.

    Only genuine secrets (their MAC verifies) are cut: anything else is not a credential.
    """
    kept: list[str] = []
    slots: list[tuple[int, str, str]] = []
    start = length = 0
    for match in _CLIENT_SECRET_RE.finditer(text):
        customer_session_id = box.verify_client_secret(match.group(0))
        if customer_session_id is None:
            continue
        kept.append(text[start : match.start()])
        length += match.start() - start
        slots.append((length, match.group(1), customer_session_id))
        start = match.end()
    if not slots:
        return text, None
    kept.append(text[start:])
    return "".join(kept), json.dumps(slots, separators=(",", ":"))


def restore_client_secrets(box: SecretBox, text: str, secrets_json: str | None) -> str:
    """The inverse of ``cut_client_secrets``: each secret re-derived and put back in its place."""
    if not secrets_json:
        return text
    parts: list[str] = []
    start = 0
    for offset, kid, customer_session_id in json.loads(secrets_json):
        secret = box.client_secret(customer_session_id, kid)
        if secret is None:
            # Minted under a master key since retired: the secret could not be verified any more
            # either, so the recorded response is gone for good.
            raise Conflict(
                "IDEMPOTENCY_KEY_EXPIRED",
                "The response recorded for this Idempotency-Key can no longer be replayed; "
                "use a new key.",
            )
        parts += [text[start:offset], secret]
        start = offset
    parts.append(text[start:])
    return "".join(parts)


def _replay(box: SecretBox, response: StoredResponse) -> Replay:
    body = restore_client_secrets(box, response.body, response.secrets_json)
    headers = [(name, value) for name, value in json.loads(response.headers_json)]
    return Replay(status=response.status, headers=headers, body=body.encode())
