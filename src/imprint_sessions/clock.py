"""Time, injectable: production reads the system clock; tests set and advance their own.

In the sandbox, a throwaway sandbox may have a test clock (``domain/test_clocks.py``). The edge
that authenticates a request of such a sandbox calls ``follow_test_clock`` with the time its
clock shows, and for the rest of that request ``SandboxClock`` answers that time, so everything
that reads "now" for the sandbox (expiry, retention, schedules, dates) follows it without being
told. Nothing else sets it: other partners, the webhook worker and the CLI keep real time.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """UTC milliseconds since the Unix epoch."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, *, seconds: float = 0, ms: int = 0) -> None:
        self._now_ms += int(seconds * 1000) + ms


_TEST_CLOCK_AT: ContextVar[int | None] = ContextVar("imprint_test_clock_at", default=None)


def real_time_until_told() -> Token[int | None]:
    """A request starts on real time (``RequestIdMiddleware``); ``reset`` the token at its end,
    so a test clock never outlives the request (an in-process client runs many in one task)."""
    return _TEST_CLOCK_AT.set(None)


def reset_time(token: Token[int | None]) -> None:
    _TEST_CLOCK_AT.reset(token)


def follow_test_clock(at: int | None) -> None:
    """For the rest of this request (its context), "now" is ``at`` (None: real time)."""
    _TEST_CLOCK_AT.set(at)


class SandboxClock:
    """The sandbox's clock: the test clock the request follows, else ``base``'s time."""

    def __init__(self, base: Clock) -> None:
        self.base = base

    def now_ms(self) -> int:
        at = _TEST_CLOCK_AT.get()
        return self.base.now_ms() if at is None else at


def wall_ms(clock: Clock) -> int:
    """Real time, whatever test clock the request follows: for work done for every partner at
    once (sweeping expired rows), which one sandbox's clock must not steer."""
    return clock.base.now_ms() if isinstance(clock, SandboxClock) else clock.now_ms()


def rfc3339_ms(epoch_ms: int) -> str:
    """``2025-02-13T19:08:07.000Z``: the API's one timestamp format."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
