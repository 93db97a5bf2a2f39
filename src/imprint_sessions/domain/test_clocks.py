"""Test clocks (sandbox mode): a throwaway sandbox's own time, frozen until it is advanced.

A sandbox created with ``test_clock`` shows the time it was given (or its creation time) for as
long as it lives, moving only when advanced, and only forward. Everything that reads "now" for
the sandbox follows it: sessions and client secrets expire by it, one-time codes and client
credentials too, idempotency keys are kept by it, and its webhook retries fall due by it (the
worker sends a retry once the clock has passed the retry's time). Every other partner keeps real
time. A request learns the time from its own sandbox's row (``follow_test_clock``), never from a
copy, so every server process agrees on it the moment an advance commits.

A clock belongs to the sandbox from its creation to its deletion, as a Stripe test clock is
given to a customer when the customer is created: a partner's keys are cached (for up to a
second) and the fact that a partner follows a clock travels with them, which stays true only
because it never changes. Webhook signatures carry real time (the receiver checks them against
its own clock), and the audit trail's ids are ordered by real time.
"""

from __future__ import annotations

from typing import Final

from imprint_sessions.clock import Clock, follow_test_clock, rfc3339_ms
from imprint_sessions.domain.sandboxes import answerable_sandbox
from imprint_sessions.errors import Conflict, InvalidRequest, TestClockNotFound
from imprint_sessions.storage.records import Principal, Sandbox
from imprint_sessions.storage.repositories import Repositories

EARLIEST_AT: Final = 0  # 1970-01-01T00:00:00.000Z
LATEST_AT: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the timestamps' last
MAX_ADVANCE_SECONDS: Final = 100 * 366 * 86_400  # a century, in one call
_RANGE: Final = "must be from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"


def starting_time(requested_at: int | None, *, clock: Clock) -> int:
    """Where a new sandbox's clock starts: the time asked for, or now."""
    at = clock.now_ms() if requested_at is None else requested_at
    if not EARLIEST_AT <= at <= LATEST_AT:
        raise InvalidRequest(f"test_clock.frozen_time: {_RANGE}")
    return at


async def follow_partner_clock(repos: Repositories, principal: Principal) -> None:
    """Make the rest of this request follow the test clock of ``principal``'s partner, which
    has one (``principal.test_clock``: the caller checks, so another partner costs nothing)."""
    follow_test_clock(await repos.get_test_clock_at(principal.partner_id))


async def get_test_clock(repos: Repositories, *, caller_id: str | None, sandbox_id: str) -> Sandbox:
    """The sandbox (the caller's own, or one it made; None: an operator) with its clock; 404 if
    it has none."""
    sandbox = await answerable_sandbox(repos, caller_id, sandbox_id)
    if sandbox.test_clock_at is None:
        raise TestClockNotFound(sandbox.id)
    return sandbox


async def advance_test_clock(
    repos: Repositories,
    *,
    caller_id: str | None,
    sandbox_id: str,
    to: int | None = None,
    seconds: int | None = None,
) -> Sandbox:
    """Move the sandbox's clock to ``to``, or ``seconds`` on from where it is; never back.

    Exactly one of them is given (a 400 otherwise, named as the API names them). Advancing to
    the time it already shows is allowed and changes nothing, so a retried call is harmless. A
    time in the clock's past, or past the last one it can show, is a conflict with the clock's
    state (409), not a malformed request: the same body is fine for a clock further back.
    """
    if (to is None) == (seconds is None):
        raise InvalidRequest("frozen_time: give exactly one of frozen_time and seconds")
    sandbox = await get_test_clock(repos, caller_id=caller_id, sandbox_id=sandbox_id)
    assert sandbox.test_clock_at is not None  # get_test_clock refuses a sandbox without one
    if seconds is not None:
        to = sandbox.test_clock_at + seconds * 1000
        if to > LATEST_AT:
            raise Conflict(
                "TEST_CLOCK_ADVANCE_ERROR",
                "seconds: would take the clock past 9999-12-31T23:59:59.999Z, the last time it "
                "can show",
            )
    assert to is not None  # one of the two, checked above
    if not EARLIEST_AT <= to <= LATEST_AT:
        raise InvalidRequest(f"frozen_time: {_RANGE}")
    advanced = await repos.advance_test_clock(sandbox.id, to=to)
    if advanced is None:  # behind what it shows (perhaps only since the read above)
        again = await get_test_clock(repos, caller_id=caller_id, sandbox_id=sandbox_id)
        shown = again.test_clock_at  # (a 404 above if it was deleted meanwhile)
        assert shown is not None
        raise Conflict(
            "TEST_CLOCK_ADVANCE_ERROR",
            f"frozen_time: is earlier than the time the clock shows ({rfc3339_ms(shown)}); a "
            "test clock only moves forward (create a new sandbox to start over)",
        )
    return advanced
