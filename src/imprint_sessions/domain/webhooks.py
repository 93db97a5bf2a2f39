"""Webhook endpoints (register, list, disable, delete, rotate the secret), events, deliveries,
replays, and the delivery rules: what counts as delivered, what is retried when, when a delivery
is given up.

``partner_id`` scopes every lookup: the partner API passes the caller's, so another partner's
ids are indistinguishable from missing ones; the admin CLI passes None (any partner).

The delivery rules are pure functions over plain values: the worker (``webhooks/worker.py``)
claims, sends and records, and asks ``retire_for_endpoint`` and ``after_attempt`` what becomes
of each delivery.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Protocol

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, new_id
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain.events import ENDPOINT_DELETED, ENDPOINT_ENABLED, EVENT_TYPES, PENDING
from imprint_sessions.errors import (
    Conflict,
    InvalidRequest,
    WebhookDeliveryNotFound,
    WebhookEndpointNotFound,
    WebhookEventNotFound,
)
from imprint_sessions.storage.records import (
    AuditContext,
    NewAuditEvent,
    Page,
    PageRequest,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointFields,
    WebhookEvent,
)
from imprint_sessions.storage.repositories import Repositories


class UrlVetting(Protocol):
    """The port that checks a webhook URL before it is stored: its form and where its host
    resolves (``webhooks.targets.TargetPolicy`` in the service; the domain does no networking)."""

    async def check_url(self, url: str) -> None: ...


ENDPOINT_DISABLED = "disabled"
MAX_ENDPOINTS_PER_PARTNER = 16
MAX_GRACE_SECONDS = 7 * 86_400
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class IssuedWebhookEndpoint:
    """An endpoint as created or rotated: the only moment its secret leaves the service."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryWithAttempts:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def canonical_id(value: str) -> str | None:
    """``value`` as an uppercase hyphenated UUID, or None when it is not a UUID."""
    try:
        return str(uuid.UUID(value)).upper()
    except ValueError:
        return None


def _event_types(requested: list[str] | None) -> tuple[str, ...]:
    if requested is None:
        return EVENT_TYPES
    unknown = sorted(set(requested) - set(EVENT_TYPES))
    problems = []
    if not requested:
        problems.append("event_types: must name at least one event type")
    if unknown:
        problems.append(f"event_types: must be among {', '.join(EVENT_TYPES)}")
    if len(set(requested)) != len(requested):
        problems.append("event_types: must not repeat")
    if problems:
        raise InvalidRequest(*problems)
    return tuple(t for t in EVENT_TYPES if t in requested)


def _secret(box: SecretBox, endpoint: WebhookEndpoint) -> str:
    secret = box.webhook_secret(endpoint.id, endpoint.secret_version, endpoint.secret_key_id)
    assert secret is not None  # minted under the current master key, always configured
    return secret


async def create_webhook_endpoint(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    targets: UrlVetting,
    partner_id: str,
    fields: WebhookEndpointFields,
    audit: AuditContext = audit_trail.SYSTEM,
) -> IssuedWebhookEndpoint:
    """Register a receiver (the URL vetted against the deployment's target policy), recorded as
    ``webhook_endpoint.created`` with its event types (never its URL: see ``domain/audit.py``).

    ``fields`` are kept as given, but for the rules here: the URL is vetted and the event types
    (at least one, none twice) default to all of them.
    """
    event_types = fields.event_types
    types = _event_types(list(event_types) if event_types is not None else None)
    await targets.check_url(fields.url)
    existing = await repos.list_webhook_endpoints(partner_id)
    if sum(e.status == ENDPOINT_ENABLED for e in existing) >= MAX_ENDPOINTS_PER_PARTNER:
        raise Conflict(
            "WEBHOOK_ENDPOINT_LIMIT_ERROR",
            f"A partner may have at most {MAX_ENDPOINTS_PER_PARTNER} enabled webhook endpoints",
        )
    now = clock.now_ms()
    given = {field.name: getattr(fields, field.name) for field in dataclasses.fields(fields)}
    endpoint = WebhookEndpoint(
        **{**given, "event_types": types},
        id=new_id(),
        partner_id=partner_id,
        status=ENDPOINT_ENABLED,
        secret_version=1,
        secret_key_id=box.current_kid,
        previous_secret_version=None,
        previous_secret_key_id=None,
        previous_secret_expires_at=None,
        created_at=now,
        updated_at=now,
    )
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.WEBHOOK_ENDPOINT_CREATED,
        object_type="webhook_endpoint",
        object_id=endpoint.id,
        at=now,
        partner_id=partner_id,
        details={"event_types": list(types)},
    )
    await repos.create_webhook_endpoint(endpoint, audit=entry)
    return IssuedWebhookEndpoint(endpoint=endpoint, secret=_secret(box, endpoint))


async def list_webhook_endpoints(repos: Repositories, *, partner_id: str) -> list[WebhookEndpoint]:
    return await repos.list_webhook_endpoints(partner_id)


def _endpoint_event(
    audit: AuditContext,
    type: str,
    endpoint_id: str,
    *,
    at: int,
    partner_id: str | None,
    **details: int,
) -> NewAuditEvent:
    return audit_trail.new_event(
        audit,
        type=type,
        object_type="webhook_endpoint",
        object_id=endpoint_id,
        at=at,
        partner_id=partner_id,
        details=details,
    )


async def disable_webhook_endpoint(
    repos: Repositories,
    *,
    clock: Clock,
    partner_id: str | None,
    endpoint_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> WebhookEndpoint:
    """Stop sending to an endpoint: no new deliveries; pending ones are retired by the worker.
    ``webhook_endpoint.disabled`` is recorded when it was enabled (not on a repeat)."""
    canonical = canonical_id(endpoint_id)
    now = clock.now_ms()
    endpoint = (
        await repos.disable_webhook_endpoint(
            canonical,
            partner_id=partner_id,
            now=now,
            audit=_endpoint_event(
                audit,
                audit_trail.WEBHOOK_ENDPOINT_DISABLED,
                canonical,
                at=now,
                partner_id=partner_id,
            ),
        )
        if canonical
        else None
    )
    if endpoint is None:
        raise WebhookEndpointNotFound(endpoint_id)
    return endpoint


async def delete_webhook_endpoint(
    repos: Repositories,
    *,
    clock: Clock,
    partner_id: str | None,
    endpoint_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> str:
    """Delete an endpoint: its URL and secret are scrubbed, its pending deliveries cancelled
    (dead, never sent); it is never listed or found again (``webhook_endpoint.deleted``). The
    deleted endpoint's id."""
    canonical = canonical_id(endpoint_id)
    now = clock.now_ms()
    deleted = (
        await repos.delete_webhook_endpoint(
            canonical,
            partner_id=partner_id,
            now=now,
            audit=_endpoint_event(
                audit,
                audit_trail.WEBHOOK_ENDPOINT_DELETED,
                canonical,
                at=now,
                partner_id=partner_id,
            ),
        )
        if canonical
        else False
    )
    if not deleted or canonical is None:
        raise WebhookEndpointNotFound(endpoint_id)
    return canonical


async def rotate_webhook_secret(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    partner_id: str | None,
    endpoint_id: str,
    grace_seconds: int,
    audit: AuditContext = audit_trail.SYSTEM,
) -> IssuedWebhookEndpoint:
    """A new secret signs from now on; the one it replaces also signs for ``grace_seconds``
    (``webhook_endpoint.secret_rotated``, with the grace period; never a secret)."""
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidRequest(f"grace_period_seconds: must be 0 to {MAX_GRACE_SECONDS}")
    canonical = canonical_id(endpoint_id)
    now = clock.now_ms()
    endpoint = (
        await repos.rotate_webhook_endpoint_secret(
            canonical,
            partner_id=partner_id,
            secret_key_id=box.current_kid,
            previous_expires_at=now + grace_seconds * 1000,
            now=now,
            audit=_endpoint_event(
                audit,
                audit_trail.WEBHOOK_ENDPOINT_SECRET_ROTATED,
                canonical,
                at=now,
                partner_id=partner_id,
                grace_period_seconds=grace_seconds,
            ),
        )
        if canonical
        else None
    )
    if endpoint is None:
        raise WebhookEndpointNotFound(endpoint_id)
    return IssuedWebhookEndpoint(endpoint=endpoint, secret=_secret(box, endpoint))


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, *, now: int) -> list[str]:
    """The secrets that sign an attempt at ``now``, newest first (empty if none can be made).

    The previous secret signs too until ``previous_secret_expires_at``.
    """
    found = []
    current = box.webhook_secret(endpoint.id, endpoint.secret_version, endpoint.secret_key_id)
    if current is not None:
        found.append(current)
    if (
        endpoint.previous_secret_version is not None
        and endpoint.previous_secret_key_id is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        previous = box.webhook_secret(
            endpoint.id, endpoint.previous_secret_version, endpoint.previous_secret_key_id
        )
        if previous is not None:
            found.append(previous)
    return found


async def list_webhook_events(
    repos: Repositories, *, partner_id: str, limit: int, starting_after: str | None
) -> Page[WebhookEvent]:
    """The partner's events, oldest first, ``limit`` at a time (the partner API's list rules)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit: must be 1 to {MAX_PAGE_SIZE}")
    cursor = canonical_id(starting_after) if starting_after is not None else None
    page = None
    if starting_after is None or cursor is not None:
        page = await repos.list_webhook_events(
            partner_id, PageRequest(limit=limit, starting_after=cursor)
        )
    if page is None:
        raise InvalidRequest("starting_after: must be the id of one of your events")
    return page


async def get_webhook_event(
    repos: Repositories, *, partner_id: str | None, event_id: str
) -> WebhookEvent:
    canonical = canonical_id(event_id)
    event = await repos.get_webhook_event(canonical, partner_id=partner_id) if canonical else None
    if event is None:
        raise WebhookEventNotFound(event_id)
    return event


async def list_event_deliveries(
    repos: Repositories, *, partner_id: str | None, event_id: str
) -> list[DeliveryWithAttempts]:
    """Every delivery of one event (replays included), each with its attempts, oldest first."""
    event = await get_webhook_event(repos, partner_id=partner_id, event_id=event_id)
    deliveries = await repos.list_webhook_deliveries(event.id)
    attempts = await repos.list_webhook_attempts([d.id for d in deliveries])
    by_delivery: dict[str, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    for attempt in attempts:
        by_delivery[attempt.delivery_id].append(attempt)
    return [DeliveryWithAttempts(d, by_delivery[d.id]) for d in deliveries]


async def replay_webhook_delivery(
    repos: Repositories,
    *,
    clock: Clock,
    partner_id: str | None,
    delivery_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> WebhookDelivery:
    """Send a delivered or dead delivery's event to its endpoint again, as a new delivery.

    The body and the event id are the original's, so a receiver that de-duplicates by event id
    sees the replay as the same event. A delivery still pending needs no replay (409); neither
    can a disabled or deleted endpoint receive one (409). Recorded as
    ``webhook_delivery.replay_requested`` about the original, naming the new delivery.
    """
    canonical = canonical_id(delivery_id)
    original = (
        await repos.get_webhook_delivery(canonical, partner_id=partner_id) if canonical else None
    )
    if original is None:
        raise WebhookDeliveryNotFound(delivery_id)
    if original.status == PENDING:
        raise Conflict(
            "WEBHOOK_DELIVERY_PENDING_ERROR",
            f"Webhook delivery {original.id} is still pending; it will be retried on its own",
        )
    endpoint = await repos.get_webhook_endpoint(original.endpoint_id, partner_id=None)
    if endpoint is None or endpoint.status != ENDPOINT_ENABLED:
        raise Conflict(
            "WEBHOOK_ENDPOINT_DISABLED_ERROR",
            f"Webhook endpoint {original.endpoint_id} is disabled or deleted",
        )
    now = clock.now_ms()
    replay = WebhookDelivery(
        id=new_id(),
        event_id=original.event_id,
        endpoint_id=original.endpoint_id,
        partner_id=original.partner_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        last_attempt_at=None,
        last_error=None,
        replay_of=original.id,
        created_at=now,
        updated_at=now,
    )
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.WEBHOOK_DELIVERY_REPLAY_REQUESTED,
        object_type="webhook_delivery",
        object_id=original.id,
        at=now,
        partner_id=original.partner_id,
        details={
            "replay_id": replay.id,
            "event_id": original.event_id,
            "endpoint_id": original.endpoint_id,
        },
    )
    await repos.insert_webhook_delivery(replay, audit=entry)
    return replay


# -- delivery rules -----------------------------------------------------------------------------

DELIVERED = "delivered"
DEAD = "dead"


class RandomSource(Protocol):
    """Where the jitter comes from: a float in [0, 1) per draw (``random.SystemRandom`` in the
    worker, a seeded ``random.Random`` in tests). The domain draws no randomness of its own."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When a failed delivery is tried again, and when it is given up.

    Exponential backoff (30 s doubling, capped at 6 h) with "equal jitter": half of each delay
    fixed, half random, so the schedule has a floor and the number of attempts a bound. A
    delivery whose next attempt would fall beyond the retry window (3 days from the delivery's
    creation) is given up instead.
    """

    base_seconds: float = 30.0
    cap_seconds: float = 6 * 3600.0
    window_seconds: float = 3 * 86_400.0

    def ceiling_ms(self, failures: int) -> int:
        """The longest wait after the ``failures``-th failure in a row (1-based)."""
        exponent = min(failures - 1, 32)  # 2**32 * 30 s is far past any cap
        return int(min(self.cap_seconds, self.base_seconds * 2**exponent) * 1000)

    def delay_ms(self, failures: int, rng: RandomSource) -> int:
        """Equal jitter: between half the ceiling and the ceiling."""
        ceiling = self.ceiling_ms(failures)
        return ceiling // 2 + int(rng.random() * (ceiling - ceiling // 2))

    def next_attempt_at(
        self, *, failures: int, now: int, created_at: int, rng: RandomSource
    ) -> int | None:
        """When to try again, or None once that would be past the retry window (dead)."""
        at = now + self.delay_ms(failures, rng)
        return at if at <= created_at + int(self.window_seconds * 1000) else None

    def max_attempts(self) -> int:
        """The most attempts a delivery can get inside the window (every delay at its floor)."""
        elapsed, attempts = 0, 1
        while True:
            elapsed += self.ceiling_ms(attempts) // 2
            if elapsed > self.window_seconds * 1000:
                return attempts
            attempts += 1


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt came to, as the rules see it: the receiver's HTTP status, or why no
    status came (a timeout, a refused connection or target, no signing secret to sign with).
    The worker maps its HTTP client's outcome to this; the rules never see the client."""

    http_status: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.http_status is None) == (self.error is None):
            raise ValueError("an attempt has either an HTTP status or an error")

    @property
    def acknowledged(self) -> bool:
        """Any 2xx. Anything else is a failure, retried on the schedule: 3xx too (redirects are
        never followed), 4xx and 5xx, and every error."""
        return self.http_status is not None and 200 <= self.http_status < 300


@dataclass(frozen=True, slots=True)
class DeliveryDecision:
    """What becomes of a claimed delivery: ``status`` PENDING (tried again at
    ``next_attempt_at``), DELIVERED or DEAD, with its attempt count and last error."""

    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None


def retire_for_endpoint(
    delivery: WebhookDelivery, *, endpoint_status: str
) -> DeliveryDecision | None:
    """DEAD, unsent and with no attempt counted, when the delivery's endpoint was disabled or
    deleted after it was queued; None when the endpoint still receives (attempt it)."""
    if endpoint_status == ENDPOINT_ENABLED:
        return None
    reason = "endpoint deleted" if endpoint_status == ENDPOINT_DELETED else "endpoint disabled"
    return DeliveryDecision(
        status=DEAD,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=reason,
    )


def after_attempt(
    delivery: WebhookDelivery,
    result: AttemptResult,
    *,
    now: int,
    schedule: RetrySchedule,
    rng: RandomSource,
) -> DeliveryDecision:
    """The delivery after one more attempt at ``now``: DELIVERED when acknowledged; otherwise
    PENDING until the schedule's next attempt, or DEAD when that would pass the retry window."""
    attempts = delivery.attempts + 1
    if result.acknowledged:
        return DeliveryDecision(DELIVERED, attempts, delivery.next_attempt_at, None)
    error = result.error if result.error is not None else f"HTTP {result.http_status}"
    retry_at = schedule.next_attempt_at(
        failures=attempts, now=now, created_at=delivery.created_at, rng=rng
    )
    if retry_at is None:
        return DeliveryDecision(DEAD, attempts, now, error)
    return DeliveryDecision(PENDING, attempts, retry_at, error)


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """What the outbox gauges report: deliveries waiting, and how long the oldest has waited."""

    depth: int
    oldest_age_seconds: float


async def outbox_health(repos: Repositories, *, clock: Clock) -> OutboxHealth:
    """The webhook outbox now, from the database (so the same on every process and host)."""
    stats = await repos.webhook_outbox_stats()
    oldest = stats.oldest_created_at
    age = max(0, clock.now_ms() - oldest) / 1000 if oldest is not None else 0.0
    return OutboxHealth(depth=stats.pending, oldest_age_seconds=age)
