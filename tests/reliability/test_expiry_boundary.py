"""A client_secret never exchanges at or after its expires_at, and exchanges once before it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock, rfc3339_ms

TTL_MIN, TTL_MAX = 60, 86_400  # what create-session's `expires_in` accepts
EXAMPLES = 100  # per backend
INVALID_SECRET = {
    "path": "/v2/client/exchange",
    "details": ["client_secret: is invalid, expired or already used"],
    "error": "Unauthorized",
    "status": 401,
    "error_code": "INVALID_CLIENT_SECRET",
}
_TIMESTAMP = re.compile(rb'"timestamp":"[^"]*"')
_PER_REQUEST_HEADERS = {"request-id", "date"}


async def new_session(harness: Harness, key: str, ttl_seconds: int) -> dict[str, Any]:
    response = await harness.client.post(
        "/v2/customer_sessions", json={"expires_in": ttl_seconds}, auth=(key, "")
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def exchange(harness: Harness, client_secret: str) -> httpx.Response:
    response = await harness.client.post(
        "/v2/client/exchange", json={"client_secret": client_secret}
    )
    if response.status_code == 200:
        _REGISTRY.remember(response.json()["access_token"])
    return response


def without_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timestamp"}


async def test_secret_one_second_before_expiry_works_and_after_fails_like_a_used_one(
    harness: Harness, clock: ManualClock
) -> None:
    _, key = await harness.new_partner()
    ttl = 900
    early = await new_session(harness, key, ttl)
    late = await new_session(harness, key, ttl)
    assert early["expires_at"] == late["expires_at"] == rfc3339_ms(clock.now_ms() + ttl * 1000)

    clock.advance(ms=ttl * 1000 - 1000)
    accepted = await exchange(harness, early["client_secret"])
    assert accepted.status_code == 200, accepted.text
    used = await exchange(harness, early["client_secret"])

    clock.advance(ms=2000)
    expired = await exchange(harness, late["client_secret"])
    assert expired.status_code == used.status_code == 401
    assert without_timestamp(expired.json()) == INVALID_SECRET
    # Nothing tells an expired secret from a used one: same bytes, same headers.
    assert _TIMESTAMP.sub(b"", expired.content) == _TIMESTAMP.sub(b"", used.content)
    assert {k: v for k, v in expired.headers.items() if k not in _PER_REQUEST_HEADERS} == {
        k: v for k, v in used.headers.items() if k not in _PER_REQUEST_HEADERS
    }
    # And the expired secret still works for nothing when tried again.
    assert (await exchange(harness, late["client_secret"])).status_code == 401


@st.composite
def lifetimes_and_offsets(draw: st.DrawFn) -> tuple[int, int]:
    """A lifetime the API accepts, and when (ms from ``expires_at``) the secret is exchanged:
    anywhere from the creation instant to one lifetime late, with the edges drawn often."""
    ttl = draw(st.integers(TTL_MIN, TTL_MAX))
    near = st.integers(-3000, 3000)
    before, after = st.integers(-ttl * 1000, -1), st.integers(0, ttl * 1000)
    offset = draw(st.one_of(near, before, after))
    return ttl, offset


@pytest.fixture
async def partner_key(harness: Harness) -> str:
    _, key = await harness.new_partner()
    return key


@pytest.fixture
def tally(database_url: str) -> Iterator[Counter[str]]:
    """Examples run per outcome, printed once every example of a backend has run (the explicit
    examples make sure both outcomes are among them)."""
    counts: Counter[str] = Counter()
    yield counts
    backend = database_url.split(":", 1)[0]
    print(f"\n[expiry property, {backend}] examples run: {dict(counts)}")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=lifetimes_and_offsets())
@example(case=(TTL_MIN, -1))
@example(case=(TTL_MIN, 0))
@example(case=(TTL_MAX, 1))
@example(case=(TTL_MAX, -1000))
@pytest.mark.slow
async def test_secret_redeems_once_before_expiry_and_never_after(
    harness: Harness,
    clock: ManualClock,
    inspector: DatabaseInspector,
    partner_key: str,
    tally: Counter[str],
    case: tuple[int, int],
) -> None:
    ttl, offset_ms = case
    session = await new_session(harness, partner_key, ttl)
    expires_at = clock.now_ms() + ttl * 1000
    assert session["expires_at"] == rfc3339_ms(expires_at)
    clock.advance(ms=ttl * 1000 + offset_ms)
    attempts = [await exchange(harness, session["client_secret"]) for _ in range(3)]
    consumed_at = inspector.scalar(
        "SELECT consumed_at FROM customer_sessions WHERE id = ?", session["id"]
    )
    # What each attempt got, without the credential a success carries.
    statuses = [(a.status_code, a.json().get("error_code")) for a in attempts]
    refused = (401, "INVALID_CLIENT_SECRET")
    if clock.now_ms() < expires_at:
        assert statuses == [(200, None), refused, refused], case
        assert attempts[0].json()["customer_session_id"] == session["id"]
        assert consumed_at == clock.now_ms()
        tally["before expiry: redeemed once"] += 1
    else:
        assert statuses == [refused, refused, refused], case
        assert all(without_timestamp(a.json()) == INVALID_SECRET for a in attempts)
        assert consumed_at is None
        tally["at or after expiry: refused"] += 1
