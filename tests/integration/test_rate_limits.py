"""Rate limits per API key on the partner API (SQLite and PostgreSQL), and the Redis limiter."""

from __future__ import annotations

import logging
import socket
import time

import anyio
import pytest

from conftest import DatabaseInspector, Harness
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners
from imprint_sessions.ratelimit import LocalRateLimiter, RateLimit, RedisRateLimiter

URL = "/v2/customer_sessions"
PER_SECOND = 2.0
BURST = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with a small budget: 3 at once, then 2 per second."""
    return settings.model_copy(
        update={"rate_limit_per_second": PER_SECOND, "rate_limit_burst": BURST}
    )


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def create(harness: Harness, api_key: str) -> int:
    response = await harness.client.post(URL, json={}, auth=(api_key, ""))
    return response.status_code


async def test_over_the_burst_is_429_with_retry_after_in_the_flat_shape(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    assert [await create(harness, api_key) for _ in range(BURST)] == [200] * BURST
    response = await harness.client.post(URL, json={}, auth=(api_key, ""))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"  # one interval (0.5 s), rounded up
    assert response.headers["request-id"]
    body = response.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert body["path"] == URL
    assert body["status"] == 429
    assert body["error"] == "Too Many Requests"
    assert body["details"] == [
        "api key: rate limit exceeded, at most 2 requests per second, in bursts of up to 3"
    ]
    assert inspector.count("customer_sessions", partner_id) == BURST  # the 429 wrote nothing


async def test_limit_recovers_at_the_sustained_rate(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    for _ in range(BURST):
        await create(harness, api_key)
    assert await create(harness, api_key) == 429
    time.sleep(1 / PER_SECOND + 0.05)  # one interval: one more request
    assert await create(harness, api_key) == 200
    assert await create(harness, api_key) == 429


async def test_limit_recovers_fully_after_a_quiet_spell_on_an_injected_clock(
    harness: Harness,
) -> None:
    clock = FakeMonotonic()
    harness.services.rate_limiter = LocalRateLimiter(RateLimit(PER_SECOND, BURST), clock=clock)
    _, api_key = await harness.new_partner()
    assert [await create(harness, api_key) for _ in range(BURST + 1)] == [200] * BURST + [429]
    clock.now += BURST / PER_SECOND
    assert [await create(harness, api_key) for _ in range(BURST + 1)] == [200] * BURST + [429]


async def test_separate_keys_have_separate_budgets(harness: Harness) -> None:
    partner_id, first_key = await harness.new_partner()
    _, other_partners_key = await harness.new_partner()
    second = await partners.create_api_key(
        harness.services.database.repositories,
        clock=harness.services.clock,
        box=harness.services.box,
        env="sandbox",
        partner_id=partner_id,
    )
    for _ in range(BURST):
        await create(harness, first_key)
    assert await create(harness, first_key) == 429
    assert await create(harness, second.api_key) == 200  # the same partner's other key
    assert await create(harness, other_partners_key) == 200


async def test_every_partner_route_draws_on_the_same_budget(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    created = (await harness.client.post(URL, json={}, auth=(api_key, ""))).json()
    for _ in range(BURST - 1):
        await create(harness, api_key)
    fetched = await harness.client.get(f"{URL}/{created['id']}", auth=(api_key, ""))
    assert fetched.status_code == 429
    assert fetched.headers["retry-after"] == "1"


async def test_failed_authentication_is_401_and_spends_no_budget(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    for _ in range(BURST * 2):
        response = await harness.client.post(URL, json={}, auth=("isk_test_" + "A" * 43, ""))
        assert response.status_code == 401
    assert await create(harness, api_key) == 200


# -- the shared limiter (Redis) -----------------------------------------------------------------


# retry_after is measured against the clock (within 0.1 s): a tracer's slowdown would eat into it.
@pytest.mark.no_cover
async def test_two_redis_limiters_share_one_budget(redis_url: str, redis_prefix: str) -> None:
    limit = RateLimit(per_second=0.1, burst=4)  # no refill within the test
    first = RedisRateLimiter.from_url(redis_url, limit, prefix=redis_prefix)
    second = RedisRateLimiter.from_url(redis_url, limit, prefix=redis_prefix)
    elsewhere = RedisRateLimiter.from_url(redis_url, limit, prefix=redis_prefix + "other:")
    try:
        decisions = [await (first if i % 2 else second).hit("key-1") for i in range(6)]
        assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
        assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
        assert decisions[-1].retry_after == pytest.approx(10.0, abs=0.1)
        assert (await first.hit("key-2")).allowed  # another key
        assert (await elsewhere.hit("key-1")).allowed  # another prefix (deployment)
    finally:
        for limiter in (first, second, elsewhere):
            await limiter.close()


async def test_redis_keys_expire_when_their_budget_is_whole_again(
    redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio

    limiter = RedisRateLimiter.from_url(redis_url, RateLimit(10, 3), prefix=redis_prefix)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await limiter.hit("k")
        ttl_ms = await client.pttl(f"{redis_prefix}ratelimit:k")
        assert 0 < ttl_ms <= 100  # one interval at 10/s
        await anyio.sleep(0.15)
        assert await client.exists(f"{redis_prefix}ratelimit:k") == 0
    finally:
        await limiter.close()
        await client.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_falls_back_to_local_limits_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    clock = FakeMonotonic()
    limiter = RedisRateLimiter.from_url(url, RateLimit(1, 2), prefix="unused:")
    limiter._clock = clock
    try:
        with caplog.at_level(logging.WARNING, logger="imprint_sessions.ratelimit"):
            allowed = [(await limiter.hit("k")).allowed for _ in range(3)]
            clock.now += 5  # past the retry window: Redis is tried again, and fails again
            assert (await limiter.hit("another key")).allowed
        assert allowed == [True, True, False]  # the process's own limit still applies
        warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
        assert len(warnings) == 1
        assert url not in caplog.text  # a URL may carry a password
    finally:
        await limiter.close()


async def test_rate_limit_rejections_are_counted_in_the_metrics(harness: Harness) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def rejections(text: str) -> float:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "imprint_rate_limit_rejections_total":
                    return sample.value
        raise AssertionError("no imprint_rate_limit_rejections_total")

    _, api_key = await harness.new_partner()
    before = rejections((await harness.client.get("/metrics")).text)
    statuses = [await create(harness, api_key) for _ in range(BURST + 2)]
    assert statuses == [200] * BURST + [429, 429]
    after = rejections((await harness.client.get("/metrics")).text)
    assert after - before == 2
