"""Rate limits per API key: GCRA in the process, or one budget shared through Redis.

GCRA (the generic cell rate algorithm) is a token bucket kept as one number per key, the
*theoretical arrival time* (TAT): a steady ``per_second`` rate, and up to ``burst`` requests at
once after a quiet spell. A request at ``now`` is allowed when ``TAT - now <= tolerance``, where
``tolerance = (burst - 1) / per_second``; it then moves the TAT on by ``1 / per_second``.

``LocalRateLimiter`` keeps the TATs in a dict (each process its own budget). ``RedisRateLimiter``
keeps them in Redis and updates one with a Lua script in a single round trip, on Redis's clock,
so any number of processes on any number of hosts share one budget per key. If Redis cannot be
reached it falls back to the process's own limiter and logs a warning: rate limiting must never
take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from imprint_sessions.config import Settings

log = logging.getLogger(__name__)

# After a Redis failure, requests use the local limiter for this long before Redis is tried again,
# so an outage costs one failed attempt per second rather than one per request.
REDIS_RETRY_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.5
_LOCAL_MAX_KEYS = 100_000
_EPSILON = 1e-9  # float slack, so that exactly-on-time requests are not refused by rounding


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_second`` requests per second, sustained; up to ``burst`` at once."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_second > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        """Seconds between requests at the sustained rate."""
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of ``now`` the TAT may run and still let a request through."""
        return self.interval * (self.burst - 1)

    def describe(self) -> str:
        return f"{self.per_second:g} requests per second, in bursts of up to {self.burst}"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int  # the burst: what ``remaining`` counts down from
    remaining: int  # requests that would be allowed right now, after this one
    retry_after: float  # seconds until a request would be allowed (0 when this one was)
    reset_after: float  # seconds until the full burst is available again


def decide(limit: RateLimit, *, allowed: bool, ahead: float) -> Decision:
    """The decision for a request, from how far the key's TAT runs ahead of now (``ahead``):
    after the request when it was allowed, unchanged when it was refused."""
    if not allowed:
        retry_after = max(ahead - limit.tolerance, 0.0)
        return Decision(False, limit.burst, 0, retry_after, ahead)
    remaining = math.floor((limit.tolerance - ahead) / limit.interval + _EPSILON) + 1
    return Decision(True, limit.burst, min(max(remaining, 0), limit.burst), 0.0, ahead)


def gcra(limit: RateLimit, tat: float | None, now: float) -> tuple[float, Decision]:
    """One request at ``now`` against a key whose TAT is ``tat`` (None: never seen).

    Returns the key's new TAT (unchanged when the request is refused) and the decision.
    """
    tat = now if tat is None or tat < now else tat
    if tat - now > limit.tolerance + _EPSILON:
        return tat, decide(limit, allowed=False, ahead=tat - now)
    new_tat = tat + limit.interval
    return new_tat, decide(limit, allowed=True, ahead=new_tat - now)


class RateLimiter(Protocol):
    limit: RateLimit

    async def hit(self, key: str) -> Decision:
        """Count one request against ``key``; whether it may proceed."""
        ...

    async def close(self) -> None: ...


class LocalRateLimiter:
    """Each process its own budget. ``clock`` is a monotonic time source in seconds."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = _LOCAL_MAX_KEYS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._tats: dict[str, float] = {}

    async def hit(self, key: str) -> Decision:
        return self.hit_now(key)

    def hit_now(self, key: str) -> Decision:
        now = self._clock()
        tat, decision = gcra(self.limit, self._tats.get(key), now)
        if decision.allowed:
            if key not in self._tats and len(self._tats) >= self._max_keys:
                self._prune(now)
            self._tats[key] = tat
        return decision

    def _prune(self, now: float) -> None:
        # A TAT in the past is the same as no TAT at all: those keys have their full burst.
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        if len(self._tats) >= self._max_keys:
            self._tats.clear()  # bounded memory beats exact limits for 100,000 busy keys

    async def close(self) -> None:
        return None


# KEYS[1]: the key's TAT (integer microseconds on Redis's clock); ARGV: interval and tolerance in
# microseconds. Returns {allowed (1 or 0), how far the TAT runs ahead of now in microseconds}. The
# key expires when its TAT passes, so idle keys take no memory.
_GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
if tat - now > tolerance then
  return {0, tat - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
  'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, new_tat - now}
"""


class RedisRateLimiter:
    """One budget per key shared by every process using the same Redis and ``prefix``."""

    def __init__(
        self,
        client: Redis,
        limit: RateLimit,
        *,
        prefix: str,
        fallback: LocalRateLimiter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._client = client
        self._script = client.register_script(_GCRA_SCRIPT)
        self._prefix = f"{prefix}ratelimit:"
        self._args = [
            max(1, round(limit.interval * 1_000_000)),
            round(limit.tolerance * 1_000_000),
        ]
        self._fallback = fallback
        self._clock = clock
        self._redis_down_until: float | None = None
        from redis.exceptions import RedisError

        self._failures: tuple[type[BaseException], ...] = (OSError, RedisError)

    @classmethod
    def from_url(cls, url: str, limit: RateLimit, *, prefix: str) -> RedisRateLimiter:
        from redis.asyncio import Redis  # imported only when configured: it takes ~0.2 s

        client = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return cls(client, limit, prefix=prefix, fallback=LocalRateLimiter(limit))

    async def hit(self, key: str) -> Decision:
        if self._redis_down_until is not None and self._clock() < self._redis_down_until:
            return self._fallback.hit_now(key)
        try:
            reply: Any = await self._script(keys=[self._prefix + key], args=self._args)
        except self._failures as exc:
            return self._redis_failed(key, exc)
        if self._redis_down_until is not None:
            self._redis_down_until = None
            log.warning("rate limits: Redis answers again; limits are shared once more")
        allowed, ahead_us = int(reply[0]), int(reply[1])
        return decide(self.limit, allowed=allowed == 1, ahead=ahead_us / 1_000_000)

    def _redis_failed(self, key: str, exc: BaseException) -> Decision:
        if self._redis_down_until is None:
            log.warning(
                "rate limits: Redis is unreachable (%s); each process limits on its own "
                "until it answers",
                type(exc).__name__,
            )
        self._redis_down_until = self._clock() + REDIS_RETRY_SECONDS
        return self._fallback.hit_now(key)

    async def close(self) -> None:
        await self._client.aclose()


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for: None when off, Redis-backed when a URL is set."""
    if settings.rate_limit_per_second <= 0:
        return None
    limit = RateLimit(settings.rate_limit_per_second, settings.rate_limit_burst)
    if settings.redis_url is None:
        return LocalRateLimiter(limit)
    return RedisRateLimiter.from_url(
        settings.redis_url.get_secret_value(), limit, prefix=settings.redis_prefix
    )
