"""The rate limiter's arithmetic (GCRA) and the in-process limiter, on an injected clock."""

from __future__ import annotations

import pytest

from imprint_sessions.config import Settings
from imprint_sessions.ratelimit import (
    LocalRateLimiter,
    RateLimit,
    RedisRateLimiter,
    build_rate_limiter,
    gcra,
)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


def limiter(clock: FakeMonotonic, per_second: float = 10, burst: int = 5) -> LocalRateLimiter:
    return LocalRateLimiter(RateLimit(per_second, burst), clock=clock)


def test_a_fresh_key_gets_its_whole_burst_at_once_then_is_refused(clock: FakeMonotonic) -> None:
    rl = limiter(clock)
    decisions = [rl.hit_now("k") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert all(d.limit == 5 for d in decisions)


def test_refusal_says_exactly_when_to_retry(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=10, burst=5)
    for _ in range(5):
        rl.hit_now("k")
    refused = rl.hit_now("k")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.1)  # one interval at 10/s
    assert refused.reset_after == pytest.approx(0.5)  # until the whole burst is back
    clock.now += 0.099
    assert not rl.hit_now("k").allowed
    clock.now += 0.001
    assert rl.hit_now("k").allowed


def test_refused_requests_do_not_use_up_budget(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=10, burst=2)
    rl.hit_now("k")
    rl.hit_now("k")
    for _ in range(100):
        assert not rl.hit_now("k").allowed
    clock.now += 0.1
    assert rl.hit_now("k").allowed


def test_sustained_rate_is_allowed_forever(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=10, burst=1)
    for _ in range(1000):
        assert rl.hit_now("k").allowed
        clock.now += 0.1


def test_faster_than_the_rate_is_refused_once_the_burst_is_spent(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=10, burst=3)
    allowed = 0
    for _ in range(100):  # 20 per second for 5 seconds
        allowed += rl.hit_now("k").allowed
        clock.now += 0.05
    # The burst, then the sustained rate: 3 + 5 s * 10/s (minus rounding at the edges).
    assert 51 <= allowed <= 53


def test_budget_recovers_fully_after_a_quiet_spell(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=2, burst=4)
    for _ in range(4):
        rl.hit_now("k")
    assert not rl.hit_now("k").allowed
    clock.now += 2.0  # (burst) / rate
    assert [rl.hit_now("k").allowed for _ in range(5)] == [True] * 4 + [False]


def test_keys_have_separate_budgets(clock: FakeMonotonic) -> None:
    rl = limiter(clock, burst=1)
    assert rl.hit_now("a").allowed
    assert not rl.hit_now("a").allowed
    assert rl.hit_now("b").allowed


def test_fractional_rates_work(clock: FakeMonotonic) -> None:
    rl = limiter(clock, per_second=0.5, burst=1)
    assert rl.hit_now("k").allowed
    refused = rl.hit_now("k")
    assert refused.retry_after == pytest.approx(2.0)
    clock.now += 2.0
    assert rl.hit_now("k").allowed


def test_gcra_treats_a_past_tat_as_a_fresh_key() -> None:
    limit = RateLimit(10, 5)
    fresh_tat, fresh = gcra(limit, None, 50.0)
    old_tat, old = gcra(limit, 10.0, 50.0)
    assert (fresh_tat, fresh) == (old_tat, old)
    assert fresh.remaining == 4
    assert fresh.reset_after == pytest.approx(0.1)


def test_memory_stays_bounded_and_idle_keys_go_first(clock: FakeMonotonic) -> None:
    rl = LocalRateLimiter(RateLimit(1, 2), clock=clock, max_keys=10)
    for i in range(10):
        rl.hit_now(f"idle-{i}")
    clock.now += 10  # every TAT is in the past: those keys hold nothing
    rl.hit_now("busy")
    rl.hit_now("busy")
    assert len(rl._tats) == 1
    assert not rl.hit_now("busy").allowed  # pruning kept the live key's state


def test_rate_limit_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError, match="per_second"):
        RateLimit(0, 1)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(1, 0)
    assert RateLimit(0.5, 3).describe() == "0.5 requests per second, in bursts of up to 3"


def settings(**overrides: object) -> Settings:
    return Settings(env="sandbox", secret_key="k" * 40, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_settings_pick_the_limiter() -> None:
    assert build_rate_limiter(settings(rate_limit_per_second=0)) is None
    local = build_rate_limiter(settings())
    assert isinstance(local, LocalRateLimiter)
    assert local.limit == RateLimit(100, 200)  # the documented defaults
    shared = build_rate_limiter(settings(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(shared, RedisRateLimiter)
    await shared.close()
