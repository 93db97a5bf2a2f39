"""The hot paths answer exactly as FastAPI's routes do, for every status those routes give.

``hot_paths.py`` dispatches create-session, retrieve-session and the exchange past FastAPI's
router, calling the same dependency and route functions. Two wirings of one route could drift,
so each request below goes to two apps on one database and one clock: the service as built, and
the same service with ``HotPathMiddleware`` taken out of its middleware stack (so FastAPI's router
serves the route). Status, headers and bodies must be byte-identical once the values that differ
by construction (ids, secrets, timestamps, request ids) are replaced by their kind.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from conftest import Harness, _remember_secrets
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.hot_paths import HotPathMiddleware

_VARYING = [
    (re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"), "<ID>"),
    (re.compile(r"ics_[A-Za-z0-9_-]+"), "<CLIENT_SECRET>"),
    (re.compile(r"ict_[A-Za-z0-9_-]+"), "<ACCESS_TOKEN>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<TIME>"),
    (re.compile(r"req_[A-Za-z0-9]+"), "<REQUEST_ID>"),
]
_HEADERS_THAT_VARY = {"request-id", "date", "content-length"}


def normalised(response: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    def scrub(text: str) -> str:
        for pattern, kind in _VARYING:
            text = pattern.sub(kind, text)
        return text

    headers = sorted(
        (name, scrub(value))
        for name, value in response.headers.multi_items()
        if name not in _HEADERS_THAT_VARY
    )
    return response.status_code, headers, scrub(response.text)


@dataclass
class Pair:
    fast: httpx.AsyncClient
    routed: httpx.AsyncClient
    harness: Harness

    async def both(
        self, method: str, path: str, **kwargs: object
    ) -> tuple[httpx.Response, httpx.Response]:
        fast = await self.fast.request(method, path, **kwargs)  # type: ignore[arg-type]
        routed = await self.routed.request(method, path, **kwargs)  # type: ignore[arg-type]
        return fast, routed


def _without_hot_paths(settings: Settings, clock: ManualClock) -> object:
    app = create_app(settings, clock=clock)
    kept = [m for m in app.user_middleware if m.cls is not HotPathMiddleware]
    assert len(kept) == len(app.user_middleware) - 1, "HotPathMiddleware is no longer installed"
    app.user_middleware = kept
    return app


@pytest.fixture
async def pair(settings: Settings, clock: ManualClock, harness: Harness) -> AsyncIterator[Pair]:
    limited = settings.model_copy(update={"rate_limit_per_second": 1.0, "rate_limit_burst": 40})
    apps = [create_app(limited, clock=clock), _without_hot_paths(limited, clock)]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))  # type: ignore[attr-defined]
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),  # type: ignore[arg-type]
                        base_url="http://testserver",
                        event_hooks={"response": [_remember_secrets]},
                    )
                )
            )
        yield Pair(clients[0], clients[1], harness)


def assert_same(fast: httpx.Response, routed: httpx.Response) -> None:
    assert normalised(fast) == normalised(routed)


async def test_create_session_answers_the_same_for_every_status(pair: Pair) -> None:
    _, key = await pair.harness.new_partner()
    auth = (key, "")
    seen = set()
    cases: list[dict[str, object]] = [
        {"json": {"partner_customer_id": "CUST_PARITY", "metadata": {"a": "1"}}},  # 200, new
        {"json": {"partner_customer_id": "CUST_PARITY"}},  # 200, the existing customer
        {"json": {}},  # 200, a new anonymous customer
        {"json": {"transaction_currency": "usd", "customer_history": {"email": "nope"}}},  # 400
        {"content": b'{"source": "a", "source": "b"}'},  # 400 duplicate key
        {"content": b"{not json"},  # 400 malformed
        {"content": b"[1, 2]"},  # 400 not an object
        {"json": {"customer_id": "AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"}},  # 404
    ]
    for case in cases:
        fast, routed = await pair.both(
            "POST",
            "/v2/customer_sessions",
            auth=auth,
            headers={"content-type": "application/json"},
            **case,
        )
        assert_same(fast, routed)
        seen.add(fast.status_code)
    for headers in ({}, {"authorization": "Bearer isk_test_" + "x" * 43}):  # 401 both ways
        fast, routed = await pair.both("POST", "/v2/customer_sessions", json={}, headers=headers)
        assert_same(fast, routed)
        seen.add(fast.status_code)
    assert seen == {200, 400, 401, 404}


async def test_create_session_merchant_keys_and_idempotency_answer_the_same(pair: Pair) -> None:
    _, key = await pair.harness.new_partner(merchant_keys=["acme-card", "acme-loan"])
    auth = (key, "")
    seen = set()
    for headers in ({}, {"x-imprint-merchant-key": "someone-else"}):  # 400, then 403
        fast, routed = await pair.both(
            "POST", "/v2/customer_sessions", json={}, auth=auth, headers=headers
        )
        assert_same(fast, routed)
        seen.add(fast.status_code)
    for body in ({"source": "web"}, {"source": "web"}, {"source": "app"}):  # 200, replay, 4xx
        # Each app gets its own key: the two must not share one stored response.
        fast = await pair.fast.post(
            "/v2/customer_sessions",
            json=body,
            auth=auth,
            headers={"x-imprint-merchant-key": "acme-card", "idempotency-key": "fast-key"},
        )
        routed = await pair.routed.post(
            "/v2/customer_sessions",
            json=body,
            auth=auth,
            headers={"x-imprint-merchant-key": "acme-card", "idempotency-key": "routed-key"},
        )
        assert_same(fast, routed)
        seen.add(fast.status_code)
    assert {400, 403, 200} <= seen
    assert len(seen) == 4  # the idempotency mismatch is a status of its own


async def test_rate_limited_create_session_answers_the_same(pair: Pair) -> None:
    _, key = await pair.harness.new_partner()
    limited: list[tuple[httpx.Response, httpx.Response]] = []
    for _ in range(45):  # burst 40, shared by both apps: each gets 429s after about 20
        fast, routed = await pair.both("POST", "/v2/customer_sessions", json={}, auth=(key, ""))
        if fast.status_code == 429 and routed.status_code == 429:
            limited.append((fast, routed))
    assert limited
    assert_same(*limited[-1])


async def test_retrieve_session_answers_the_same_for_every_status(pair: Pair) -> None:
    _, key = await pair.harness.new_partner()
    _, other_key = await pair.harness.new_partner()
    created = await pair.fast.post("/v2/customer_sessions", json={}, auth=(key, ""))
    session_id = created.json()["id"]
    seen = set()
    for path, auth in (
        (f"/v2/customer_sessions/{session_id}", (key, "")),  # 200
        (f"/v2/customer_sessions/{session_id.lower()}", (key, "")),  # 200 or 404, either way
        (f"/v2/customer_sessions/{session_id}", (other_key, "")),  # 404: another partner's
        ("/v2/customer_sessions/AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA", (key, "")),  # 404
        ("/v2/customer_sessions/not-an-id", (key, "")),  # 404
        (f"/v2/customer_sessions/{'A' * 300}", (key, "")),  # over the length limit
        (f"/v2/customer_sessions/{session_id}", ("isk_test_" + "y" * 43, "")),  # 401
    ):
        fast, routed = await pair.both("GET", path, auth=auth)
        assert_same(fast, routed)
        seen.add(fast.status_code)
    assert {200, 401, 404} <= seen


async def test_exchange_answers_the_same_for_every_status(pair: Pair) -> None:
    _, key = await pair.harness.new_partner()
    secrets_made = []
    for client in (pair.fast, pair.routed):
        created = await client.post("/v2/customer_sessions", json={}, auth=(key, ""))
        secrets_made.append(created.json()["client_secret"])
    seen = set()
    # The first exchange of each app's own secret (200), then a second one (401).
    for _ in range(2):
        fast = await pair.fast.post("/v2/client/exchange", json={"client_secret": secrets_made[0]})
        routed = await pair.routed.post(
            "/v2/client/exchange", json={"client_secret": secrets_made[1]}
        )
        assert_same(fast, routed)
        seen.add(fast.status_code)
    for case in (
        {"json": {"client_secret": "ics_00000000_" + "A" * 64}},  # 401: forged
        {"json": {}},  # 400: missing
        {"json": {"client_secret": 5}},  # 400: wrong type
        {"content": b"{", "headers": {"content-type": "application/json"}},  # 400: malformed
    ):
        fast, routed = await pair.both("POST", "/v2/client/exchange", **case)
        assert_same(fast, routed)
        seen.add(fast.status_code)
    assert seen == {200, 400, 401}
