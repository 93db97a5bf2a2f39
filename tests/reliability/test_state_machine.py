"""A hypothesis state machine drives sessions, secrets, idempotency keys, API keys and the clock."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock, rfc3339_ms
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain.api_keys import CACHE_TTL_SECONDS
from imprint_sessions.domain.partners import MAX_ACTIVE_API_KEYS
from imprint_sessions.logs import redact
from imprint_sessions.storage.db import Database, open_database
from live_server import new_partner, remember_credentials, serve_in_thread

pytestmark = pytest.mark.slow

MACHINE_SETTINGS = hypothesis_settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,  # real HTTP on a real database: latency varies and is not under test
    database=None,  # writes nothing outside the test's temporary directories
    # The same examples every run (as Hypothesis' CI profile has it anyway): the floor of what
    # the run must reach, asserted below, then never depends on luck.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
DEFAULT_SESSION_TTL_MS = 1_800_000  # IMPRINT_SESSION_TTL_SECONDS' default
CLIENT_TOKEN_TTL_MS = 3_600_000  # IMPRINT_CLIENT_TOKEN_TTL_SECONDS' default
IDEMPOTENCY_TTL_MS = 86_400_000  # IMPRINT_IDEMPOTENCY_TTL_SECONDS' default
CUSTOMERS = ["CUST_A", "CUST_B", "CUST_C"]
# Clock steps: within a second, across the shortest lifetime, the default one, the client
# credential's, the idempotency window, and anything up to two days.
CLOCK_STEPS_MS = st.one_of(
    st.sampled_from([1, 999, 1_000, 30_000, 59_999, 60_000, 60_001, 600_000, 1_800_000]),
    st.sampled_from([3_600_000, 86_400_000, 86_400_001]),
    st.integers(min_value=0, max_value=2 * 86_400_000),
)
LIFETIMES = st.one_of(st.none(), st.sampled_from([60, 61, 3_600, 86_400]), st.integers(60, 86_400))
REUSED_KEY = ["idempotency-key: was used with a different request body"]


def shown(response: httpx.Response) -> str:
    """A response for an assertion message, its credentials redacted."""
    return f"{response.status_code} {redact(response.text)}"


@dataclass
class World:
    """What every example of the machine shares: one server, its clock, its database."""

    base_url: str
    client: httpx.Client
    clock: ManualClock
    portal: BlockingPortal
    database: Database
    box: SecretBox
    stats: Counter[str] = field(default_factory=Counter)
    seconds_waited: float = 0.0


@dataclass
class ModelSession:
    id: str
    client_secret: str = field(repr=False)
    customer: str | None
    expires_at: int
    consumed: bool = False
    revoked: bool = False
    token: str | None = field(default=None, repr=False)
    token_expires_at: int = 0

    def state(self, now: int) -> str:
        """``customer_session_state``'s rule: revoked over consumed over expired, else active."""
        if self.revoked:
            return "revoked"
        if self.consumed:
            return "consumed"
        return "expired" if self.expires_at <= now else "active"


@dataclass
class ModelKey:
    id: str
    secret: str = field(repr=False)
    revoked: bool = False
    # The server caches a successful lookup for CACHE_TTL_SECONDS (real time, not the clock):
    # after this moment no cache can hold this key any more.
    cached_until: float = 0.0


@dataclass
class Recorded:
    """A create-session request made with an Idempotency-Key, and what it answered."""

    body: bytes
    answer: dict[str, Any]
    recorded_at: int


class SessionMachine(RuleBasedStateMachine):
    """One partner per example; the model says what every answer must be."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.sessions: dict[str, ModelSession] = {}
        self.keys: dict[str, ModelKey] = {}
        self.recorded: dict[str, Recorded] = {}
        self.redeemed: Counter[str] = Counter()
        self.cache_waits = 0

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.world.clock.now_ms()

    def send(self, method: str, path: str, *, auth: str | None = None, **kwargs: Any) -> Any:
        """One request; never a 5xx."""
        headers = dict(kwargs.pop("headers", {}))
        if auth is not None:
            headers["Authorization"] = f"Bearer {auth}"
        response = self.world.client.request(method, path, headers=headers, **kwargs)
        remember_credentials(response.content)
        self.world.stats["requests"] += 1
        assert response.status_code < 500, (method, path, response.status_code, shown(response))
        return response

    def as_partner(self, data: st.DataObject, method: str, path: str, **kwargs: Any) -> Any:
        """A partner call with one of the partner's live keys, which is never refused.

        (Revoked keys have rules of their own: whether the server's one-second cache still holds
        one depends on real time, which the model must not branch on.)
        """
        key: ModelKey = self.choose(data, [key for key in self.keys.values() if not key.revoked])
        response = self.send(method, path, auth=key.secret, **kwargs)
        assert response.status_code != 401, shown(response)
        key.cached_until = time.monotonic() + CACHE_TTL_SECONDS
        return response

    def choose(self, data: st.DataObject, values: list[Any]) -> Any:
        """One of ``values``, drawn by its ``id`` (so a failing case prints ids, not secrets)."""
        by_id = {value.id: value for value in values}
        return by_id[data.draw(st.sampled_from(list(by_id)))]

    def create(self, data: st.DataObject, raw: bytes, idempotency_key: str | None) -> Any:
        """POST ``raw`` to create-session; the new session joins the model."""
        headers = {"Content-Type": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        now = self.now
        response = self.as_partner(
            data, "POST", "/v2/customer_sessions", content=raw, headers=headers
        )
        assert response.status_code == 200, shown(response)
        assert "idempotent-replayed" not in response.headers
        answer = response.json()
        body = json.loads(raw)
        lifetime = body.get("expires_in")
        expires_at = now + (lifetime * 1000 if lifetime else DEFAULT_SESSION_TTL_MS)
        assert answer["id"] not in self.sessions, answer
        assert answer["expires_at"] == rfc3339_ms(expires_at), (answer, expires_at)
        self.sessions[answer["id"]] = ModelSession(
            answer["id"], answer["client_secret"], body.get("partner_customer_id"), expires_at
        )
        if idempotency_key is not None:
            self.recorded[idempotency_key] = Recorded(raw, answer, now)
        self.world.stats["sessions created"] += 1
        return answer

    # -- rules ------------------------------------------------------------------------------
    @initialize()
    def new_partner(self) -> None:
        world = self.world
        issued = world.portal.call(
            functools.partial(
                new_partner,
                world.database.repositories,
                clock=world.clock,
                box=world.box,
                env="sandbox",
                name="state machine",
            )
        )
        self.keys[issued.record.id] = ModelKey(issued.record.id, issued.api_key)
        world.stats["examples"] += 1

    @rule(
        data=st.data(),
        customer=st.one_of(st.none(), st.sampled_from(CUSTOMERS)),
        lifetime=LIFETIMES,
        idempotent=st.booleans(),
    )
    def create_session(
        self, data: st.DataObject, customer: str | None, lifetime: int | None, idempotent: bool
    ) -> None:
        body: dict[str, Any] = {}
        if customer is not None:
            body["partner_customer_id"] = customer
        if lifetime is not None:
            body["expires_in"] = lifetime
        self.create(data, json.dumps(body).encode(), str(uuid.uuid4()) if idempotent else None)

    @precondition(lambda self: self.recorded)
    @rule(data=st.data(), same_body=st.booleans())
    def replay_create(self, data: st.DataObject, same_body: bool) -> None:
        """The same key: the same answer for the same body, 422 for another, until 24 hours
        after the first request; then the key counts as never used."""
        idempotency_key = data.draw(st.sampled_from(list(self.recorded)))
        recorded = self.recorded[idempotency_key]
        raw = recorded.body
        if not same_body:
            raw = json.dumps({**json.loads(raw), "metadata": {"other": uuid.uuid4().hex}}).encode()
        if self.now >= recorded.recorded_at + IDEMPOTENCY_TTL_MS:
            self.create(data, raw, idempotency_key)
            self.world.stats["idempotency keys used again after 24 hours"] += 1
            return
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        response = self.as_partner(
            data, "POST", "/v2/customer_sessions", content=raw, headers=headers
        )
        if same_body:
            assert response.status_code == 200, shown(response)
            assert response.headers["idempotent-replayed"] == "true"
            assert response.json() == recorded.answer  # same session, same client_secret
            self.world.stats["replays"] += 1
        else:
            assert response.status_code == 422, shown(response)
            assert response.json()["details"] == REUSED_KEY
            self.world.stats["idempotency conflicts"] += 1

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def exchange(self, data: st.DataObject) -> None:
        self.redeem(self.choose(data, list(self.sessions.values())))

    def redeem(self, session: ModelSession) -> None:
        """Exchange the session's secret: once, and only before its expires_at and end."""
        now = self.now
        response = self.send(
            "POST", "/v2/client/exchange", json={"client_secret": session.client_secret}
        )
        redeemable = not session.consumed and not session.revoked and now < session.expires_at
        if not redeemable:
            assert response.status_code == 401, (session, now, shown(response))
            assert response.json()["error_code"] == "INVALID_CLIENT_SECRET"
            self.world.stats["exchanges refused"] += 1
            return
        assert response.status_code == 200, (session, now, response.status_code)
        answer = response.json()
        assert answer["customer_session_id"] == session.id
        assert answer["expires_at"] == rfc3339_ms(now + CLIENT_TOKEN_TTL_MS)
        self.redeemed[session.id] += 1
        self.world.stats["exchanges"] += 1
        session.consumed = True
        session.token = answer["access_token"]
        session.token_expires_at = now + CLIENT_TOKEN_TTL_MS

    def check_client_credential(self, session: ModelSession) -> None:
        """Accepted until it expires or its session is ended (not when the session's own
        expires_at passes: that bounds the exchange only)."""
        response = self.send("GET", "/v2/client/session", auth=session.token)
        if session.revoked or self.now >= session.token_expires_at:
            assert response.status_code == 401, (session, self.now, shown(response))
            self.world.stats["client credentials refused"] += 1
        else:
            assert response.status_code == 200, (session, self.now, shown(response))
            self.world.stats["client credentials accepted"] += 1

    @precondition(lambda self: any(s.token for s in self.sessions.values()))
    @rule(data=st.data())
    def use_client_credential(self, data: st.DataObject) -> None:
        holders = [session for session in self.sessions.values() if session.token]
        self.check_client_credential(self.choose(data, holders))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def retrieve(self, data: st.DataObject) -> None:
        session = self.choose(data, list(self.sessions.values()))
        response = self.as_partner(data, "GET", f"/v2/customer_sessions/{session.id}")
        assert response.status_code == 200, shown(response)
        answer = response.json()
        assert (answer["id"], answer["client_secret"]) == (session.id, session.client_secret)
        assert answer["expires_at"] == rfc3339_ms(session.expires_at)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def expire(self, data: st.DataObject) -> None:
        session = self.choose(data, list(self.sessions.values()))
        now = self.now
        response = self.as_partner(data, "POST", f"/v2/customer_sessions/{session.id}/expire")
        assert response.status_code == 200, shown(response)
        if now < session.expires_at:
            session.revoked = True  # a session past its expires_at is returned as it is
        assert response.json()["state"] == session.state(now), (session, now, shown(response))
        self.world.stats["expires"] += 1
        if session.token:
            self.check_client_credential(session)

    @precondition(lambda self: any(s.customer for s in self.sessions.values()))
    @rule(data=st.data())
    def list_customer_sessions(self, data: st.DataObject) -> None:
        """The same partner_customer_id reaches the same customer, whose sessions and their
        states are exactly the model's."""
        customers = sorted({s.customer for s in self.sessions.values() if s.customer})
        customer = data.draw(st.sampled_from(customers))
        query = {"partner_customer_id": customer}
        found = self.as_partner(data, "GET", "/v2/customers", params=query)
        assert found.status_code == 200, shown(found)
        [customer_object] = found.json()["data"]
        now = self.now
        path = f"/v2/customers/{customer_object['id']}/customer_sessions"
        listed = self.as_partner(data, "GET", path, params={"limit": 100})
        assert listed.status_code == 200, shown(listed)
        states = {s["id"]: s["state"] for s in listed.json()["data"]}
        expected = {s.id: s.state(now) for s in self.sessions.values() if s.customer == customer}
        assert states == expected, now
        self.world.stats["customer listings"] += 1

    @rule(data=st.data())
    def create_key(self, data: st.DataObject) -> None:
        live = sum(not key.revoked for key in self.keys.values())
        response = self.as_partner(data, "POST", "/v2/keys")
        if live >= MAX_ACTIVE_API_KEYS:
            assert response.status_code == 409, shown(response)
            return
        assert response.status_code == 200, shown(response)
        answer = response.json()
        self.keys[answer["id"]] = ModelKey(answer["id"], answer["api_key"])
        self.world.stats["keys created"] += 1

    @rule(data=st.data())
    def delete_key(self, data: st.DataObject) -> None:
        """Any key of the partner, the calling one included; never the last live one."""
        target: ModelKey = self.choose(data, list(self.keys.values()))
        live = sum(not key.revoked for key in self.keys.values())
        response = self.as_partner(data, "DELETE", "/v2/keys", json={"id": target.id})
        if target.revoked:
            assert response.status_code == 404, shown(response)
            assert response.json()["type"] == "KEY_NOT_FOUND_ERROR"
        elif live == 1:
            assert response.status_code == 409, shown(response)
            assert response.json()["type"] == "KEY_CONFLICT_ERROR"
        else:
            assert response.status_code == 200, shown(response)
            target.revoked = True
            self.world.stats["keys revoked"] += 1

    @precondition(lambda self: any(key.revoked for key in self.keys.values()))
    @rule(data=st.data())
    def call_with_revoked_key(self, data: st.DataObject) -> None:
        """Refused once no cache can hold it; until then (one second, real time) the server
        may still take it. A read, so either answer leaves the model as it is."""
        key = self.choose(data, [key for key in self.keys.values() if key.revoked])
        response = self.send("GET", "/v2/webhook_endpoints", auth=key.secret)
        if response.status_code == 401:
            self.world.stats["revoked keys refused"] += 1
            return
        assert response.status_code == 200, shown(response)
        assert time.monotonic() < key.cached_until, "a revoked key worked after its cache window"
        self.world.stats["revoked keys served from the cache"] += 1

    # It sleeps (up to the cache's one second of real time): at most once per example.
    @precondition(lambda self: self.cache_waits == 0 and any(k.revoked for k in self.keys.values()))
    @rule()
    def wait_out_key_cache(self) -> None:
        """Once the documented second has passed, every revoked key is refused."""
        self.cache_waits += 1
        revoked = [key for key in self.keys.values() if key.revoked]
        pause = max(0.0, max(key.cached_until for key in revoked) - time.monotonic())
        time.sleep(pause)
        self.world.seconds_waited += pause
        for key in revoked:
            response = self.send("GET", "/v2/webhook_endpoints", auth=key.secret)
            assert response.status_code == 401, shown(response)
            self.world.stats["revoked keys refused after the cache window"] += 1

    @rule(
        data=st.data(),
        step_ms=CLOCK_STEPS_MS,
        to_an_expiry=st.booleans(),
        offset_ms=st.sampled_from([-1, 0, 1]),
    )
    def advance_clock(
        self, data: st.DataObject, step_ms: int, to_an_expiry: bool, offset_ms: int
    ) -> None:
        """By ``step_ms``; or to a millisecond either side of (or exactly at) a session's
        expires_at, and try its secret there."""
        later = [s for s in self.sessions.values() if s.expires_at > self.now + 1]
        if to_an_expiry and later:
            target: ModelSession = self.choose(data, later)
            self.world.clock.advance(ms=target.expires_at + offset_ms - self.now)
            self.world.stats[f"clock advances to an expiry {offset_ms:+d} ms"] += 1
            self.redeem(target)
        else:
            self.world.clock.advance(ms=step_ms)
            self.world.stats["clock advances"] += 1
        for session in self.sessions.values():
            if session.token:
                self.check_client_credential(session)

    @invariant()
    def a_secret_redeems_at_most_once(self) -> None:
        self.world.stats["steps"] += 1
        assert all(count <= 1 for count in self.redeemed.values()), self.redeemed


@pytest.fixture
def world(settings: Settings, clock: ManualClock) -> Iterator[World]:
    # Rate limits off: the machine's request rate is not under test.
    settings = settings.model_copy(update={"rate_limit_per_second": 0})
    with (
        start_blocking_portal() as portal,
        serve_in_thread(create_app(settings, clock=clock), name="state-machine") as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        database = portal.call(open_database, settings)
        try:
            yield World(
                base_url, client, clock, portal, database, SecretBox(settings.master_keys())
            )
        finally:
            portal.call(database.close)


def test_state_machine_model_and_server_agree_on_every_answer(world: World) -> None:
    started = time.monotonic()

    class OnThisServer(SessionMachine):
        def __init__(self) -> None:
            super().__init__(world)

    run_state_machine_as_test(OnThisServer, settings=MACHINE_SETTINGS)
    stats = world.stats
    elapsed = time.monotonic() - started
    print(f"state machine: {elapsed:.1f}s ({world.seconds_waited:.1f}s waiting out the key cache)")
    print(dict(sorted(stats.items())))
    # The run reached what it is about (else it proved little): each of these happened.
    for reached in (
        "sessions created",
        "replays",
        "idempotency conflicts",
        "exchanges",
        "exchanges refused",
        "client credentials accepted",
        "client credentials refused",
        "expires",
        "keys created",
        "keys revoked",
        "revoked keys refused",
        "revoked keys refused after the cache window",
        "customer listings",
        "clock advances to an expiry -1 ms",
        "clock advances to an expiry +0 ms",
        "clock advances to an expiry +1 ms",
    ):
        assert stats[reached] > 0, (reached, stats)
