"""The webhook delivery rules (domain/webhooks.py): what is delivered, what is retried and when,
when a delivery is given up. Pure functions: no database, no HTTP."""

from __future__ import annotations

import math
import random

import pytest

from imprint_sessions.domain.events import ENDPOINT_DELETED, ENDPOINT_ENABLED, PENDING
from imprint_sessions.domain.webhooks import (
    DEAD,
    DELIVERED,
    ENDPOINT_DISABLED,
    AttemptResult,
    DeliveryDecision,
    RetrySchedule,
    after_attempt,
    retire_for_endpoint,
)
from imprint_sessions.storage.records import WebhookDelivery

CREATED = 1_739_473_687_000
SCHEDULE = RetrySchedule()
WINDOW_MS = int(SCHEDULE.window_seconds * 1000)


class FixedRandom(random.Random):
    """A random source that always draws ``value`` (0 is the jitter's floor, just under 1 its
    ceiling)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def delivery(*, attempts: int = 2, next_attempt_at: int = CREATED + 90_000) -> WebhookDelivery:
    return WebhookDelivery(
        id="D",
        event_id="E",
        endpoint_id="W",
        partner_id="P",
        status=PENDING,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_attempt_at=CREATED + 45_000 if attempts else None,
        last_error="HTTP 500" if attempts else None,
        replay_of=None,
        created_at=CREATED,
        updated_at=CREATED,
    )


def attempt(result: AttemptResult, *, now: int, queued: WebhookDelivery) -> DeliveryDecision:
    return after_attempt(queued, result, now=now, schedule=SCHEDULE, rng=random.Random(7))


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered_and_counts_the_attempt(status: int) -> None:
    queued = delivery(attempts=2)
    decided = attempt(AttemptResult(http_status=status), now=CREATED + 100_000, queued=queued)
    assert decided == DeliveryDecision(DELIVERED, 3, queued.next_attempt_at, None)


def test_a_2xx_after_the_window_is_still_delivered() -> None:
    late = CREATED + WINDOW_MS + 1
    decided = attempt(AttemptResult(http_status=200), now=late, queued=delivery(attempts=30))
    assert decided.status == DELIVERED


@pytest.mark.parametrize(
    "result",
    [
        *(AttemptResult(http_status=s) for s in (100, 199, 300, 301, 304, 400, 404, 410, 429)),
        *(AttemptResult(http_status=s) for s in (500, 502, 503, 504, 599)),
        AttemptResult(error="timed out after 10 s"),
        AttemptResult(error="ConnectError: [Errno 111] Connection refused"),
        AttemptResult(error="RemoteProtocolError: Server disconnected without sending a response"),
        AttemptResult(error="target refused: 10.0.0.1 is a private address"),
        AttemptResult(error="signing secret unavailable: its master key is no longer configured"),
        AttemptResult(error="unexpected error: RuntimeError"),
    ],
    ids=lambda r: str(r.http_status or r.error),
)
def test_every_other_outcome_is_retried_on_the_schedule_naming_what_failed(
    result: AttemptResult,
) -> None:
    now = CREATED + 100_000
    decided = attempt(result, now=now, queued=delivery(attempts=2))
    assert decided.status == PENDING
    assert decided.attempts == 3
    ceiling = SCHEDULE.ceiling_ms(3)  # after the third failure in a row: 120 s
    assert ceiling == 120_000
    assert now + ceiling // 2 <= decided.next_attempt_at <= now + ceiling
    assert decided.last_error == (result.error or f"HTTP {result.http_status}")


def test_a_delivery_is_given_up_once_its_next_attempt_would_pass_the_window() -> None:
    floor = SCHEDULE.ceiling_ms(1) // 2  # the first retry, with the jitter at its floor: 15 s
    fresh = delivery(attempts=0)
    last_chance = CREATED + WINDOW_MS - floor
    failed = AttemptResult(http_status=500)
    rng = FixedRandom(0.0)
    kept = after_attempt(fresh, failed, now=last_chance, schedule=SCHEDULE, rng=rng)
    assert kept == DeliveryDecision(PENDING, 1, CREATED + WINDOW_MS, "HTTP 500")
    too_late = last_chance + 1
    dead = after_attempt(fresh, failed, now=too_late, schedule=SCHEDULE, rng=rng)
    assert dead == DeliveryDecision(DEAD, 1, too_late, "HTTP 500")
    timed_out = AttemptResult(error="timed out after 10 s")
    gone = after_attempt(fresh, timed_out, now=too_late, schedule=SCHEDULE, rng=rng)
    assert gone == DeliveryDecision(DEAD, 1, too_late, "timed out after 10 s")


def test_the_window_is_the_schedules_own() -> None:
    short = RetrySchedule(window_seconds=60)
    fresh = delivery(attempts=0)
    failed = AttemptResult(http_status=503)
    rng = FixedRandom(0.0)
    assert after_attempt(fresh, failed, now=CREATED, schedule=short, rng=rng).status == PENDING
    late = CREATED + 46_000  # + 15 s is past the minute
    assert after_attempt(fresh, failed, now=late, schedule=short, rng=rng).status == DEAD


def test_the_retry_delay_doubles_from_30_seconds_to_a_6_hour_cap() -> None:
    assert [SCHEDULE.ceiling_ms(n) // 1000 for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert SCHEDULE.ceiling_ms(10) < SCHEDULE.ceiling_ms(11) == 6 * 3600 * 1000
    assert SCHEDULE.ceiling_ms(500) == 6 * 3600 * 1000
    ceilings = [SCHEDULE.ceiling_ms(n) for n in range(1, 200)]
    assert ceilings == sorted(ceilings)  # never shorter after another failure
    assert max(ceilings) == SCHEDULE.cap_seconds * 1000
    assert RetrySchedule(base_seconds=1, cap_seconds=5).ceiling_ms(4) == 5000


def test_the_jitter_stays_between_half_the_ceiling_and_the_ceiling() -> None:
    for failures in range(1, 20):
        ceiling = SCHEDULE.ceiling_ms(failures)
        assert SCHEDULE.delay_ms(failures, FixedRandom(0.0)) == ceiling // 2
        highest = SCHEDULE.delay_ms(failures, FixedRandom(math.nextafter(1.0, 0.0)))
        assert ceiling - 1 <= highest <= ceiling
    rng = random.Random(1)
    for failures in range(1, 20):
        ceiling = SCHEDULE.ceiling_ms(failures)
        delays = {SCHEDULE.delay_ms(failures, rng) for _ in range(50)}
        assert all(ceiling // 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # random: deliveries that failed together spread out


def test_the_number_of_attempts_in_the_window_is_bounded() -> None:
    # Every delay at its floor: 15 s, 30 s, ... then 3 h apart until three days have passed.
    assert 30 <= SCHEDULE.max_attempts() <= 40
    rng = random.Random(5)
    now = created = 0
    attempts = 1
    while at := SCHEDULE.next_attempt_at(failures=attempts, now=now, created_at=created, rng=rng):
        now, attempts = at, attempts + 1
    assert attempts <= SCHEDULE.max_attempts()
    assert now > created + 2 * 86_400_000  # "about three days": well past two


@pytest.mark.parametrize(
    ("endpoint_status", "reason"),
    [(ENDPOINT_DISABLED, "endpoint disabled"), (ENDPOINT_DELETED, "endpoint deleted")],
)
def test_a_delivery_whose_endpoint_stopped_receiving_dies_unsent(
    endpoint_status: str, reason: str
) -> None:
    queued = delivery(attempts=4)
    decided = retire_for_endpoint(queued, endpoint_status=endpoint_status)
    assert decided == DeliveryDecision(DEAD, 4, queued.next_attempt_at, reason)


def test_a_delivery_to_an_enabled_endpoint_is_attempted() -> None:
    assert retire_for_endpoint(delivery(), endpoint_status=ENDPOINT_ENABLED) is None


@pytest.mark.parametrize(("http_status", "error"), [(None, None), (500, "timed out")])
def test_an_attempt_comes_to_a_status_or_an_error_never_both_nor_neither(
    http_status: int | None, error: str | None
) -> None:
    with pytest.raises(ValueError, match="either an HTTP status or an error"):
        AttemptResult(http_status=http_status, error=error)
