"""A client_secret exchanges exactly once, under 200 simultaneous tries on two server processes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from conftest import _REGISTRY, BACKENDS, TEST_SECRET_KEY
from e2e.conftest import Deployment, Server, cli, open_deployment
from imprint_sessions.config import Settings

SESSIONS = 50
RACERS = 200  # concurrent exchanges of each secret, released together
NEGATIVE_SESSIONS = 3  # per round of the negative control
NEGATIVE_ROUNDS = 3
INVALID_SECRET = {
    "path": "/v2/client/exchange",
    "details": ["client_secret: is invalid, expired or already used"],
    "error": "Unauthorized",
    "status": 401,
    "error_code": "INVALID_CLIENT_SECRET",
}


@dataclass
class CreatedSession:
    id: str
    client_secret: str
    partner_customer_id: str
    email: str


@dataclass
class Race:
    """What every exchange of one load run answered."""

    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # per session id
    successes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)  # 401 bodies, timestamp cut out
    others: Counter[str] = field(default_factory=Counter)  # any other answer: status and body
    transport_errors: list[str] = field(default_factory=list)
    requests: int = 0
    elapsed: float = 0.0

    def success_counts(self) -> list[int]:
        return [len(self.successes[session_id]) for session_id in self.statuses]

    def figures(self) -> str:
        total = Counter[int]()
        for statuses in self.statuses.values():
            total.update(statuses)
        return (
            f"{len(self.statuses)} secrets x {RACERS} concurrent exchanges: {self.requests} "
            f"requests, {sum(self.success_counts())} successes "
            f"(per secret: {sorted(Counter(self.success_counts()).items())}), "
            f"statuses {dict(sorted(total.items()))}, {len(self.transport_errors)} transport "
            f"errors, {self.elapsed:.1f} s, {self.requests / self.elapsed:.0f} req/s"
        )


def assert_exactly_once(race: Race) -> None:
    """One 200 per secret; every other answer the one documented 401, byte for byte."""
    assert race.transport_errors == [], race.transport_errors[:3]
    assert not race.others, race.others.most_common(3)
    for session_id, statuses in race.statuses.items():
        assert statuses == Counter({200: 1, 401: RACERS - 1}), (session_id, statuses)
    assert list(race.refusals) == [json.dumps(INVALID_SECRET, sort_keys=True)]
    assert sum(race.refusals.values()) == len(race.statuses) * (RACERS - 1)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
def deployment(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    with open_deployment(backend, tmp_path) as opened:
        yield opened


def create_sessions(server: Server, key: str, count: int) -> list[CreatedSession]:
    """``count`` sessions, each for a new customer of its own (a distinct profile to read back)."""
    tag = os.urandom(4).hex()
    created = []
    with httpx.Client(base_url=server.base_url, auth=(key, ""), timeout=30) as client:
        for i in range(count):
            partner_customer_id, email = f"REL_{tag}_{i}", f"c{i}.{tag}@example.com"
            body = {
                "partner_customer_id": partner_customer_id,
                "customer_history": {"email": email, "first_name": f"Customer{i}"},
            }
            response = client.post("/v2/customer_sessions", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            _REGISTRY.remember(answer["client_secret"])
            created.append(
                CreatedSession(answer["id"], answer["client_secret"], partner_customer_id, email)
            )
    return created


async def race_one(base_url: str, secret: str) -> list[httpx.Response | str]:
    """``RACERS`` exchanges of ``secret``, each on a new connection, released at one instant.

    New connections each time, like ``RACERS`` browsers: a kept-alive connection that the server
    closes for idleness just as a request reuses it would be a transport error of the test's own.
    """
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def exchange(start: asyncio.Event) -> httpx.Response | str:
            await start.wait()
            try:
                return await client.post("/v2/client/exchange", json={"client_secret": secret})
            except httpx.TransportError as exc:
                return repr(exc)

        start = asyncio.Event()
        tasks = [asyncio.create_task(exchange(start)) for _ in range(RACERS)]
        await asyncio.sleep(0)  # every task is now parked on the event
        start.set()
        return await asyncio.gather(*tasks)


async def race(server: Server, sessions: list[CreatedSession]) -> Race:
    """For each secret in turn, ``RACERS`` exchanges started at the same instant."""
    result = Race()
    started = time.perf_counter()
    for session in sessions:
        answers = await race_one(server.base_url, session.client_secret)
        statuses = result.statuses.setdefault(session.id, Counter())
        successes = result.successes.setdefault(session.id, [])
        for answer in answers:
            result.requests += 1
            if isinstance(answer, str):
                result.transport_errors.append(answer)
                continue
            statuses[answer.status_code] += 1
            body = answer.json()
            if answer.status_code == 200:
                _REGISTRY.remember(body["access_token"])
                successes.append(body)
            elif answer.status_code == 401:
                body.pop("timestamp", None)
                result.refusals[json.dumps(body, sort_keys=True)] += 1
            else:
                result.others[f"{answer.status_code} {answer.text[:200]}"] += 1
    result.elapsed = time.perf_counter() - started
    return result


def splice(secret: str, other: str) -> str:
    """``secret``'s MAC with ``other``'s session id: a secret re-aimed at another session."""
    prefix, kid, payload = secret.split("_", 2)
    raw, other_raw = base64.urlsafe_b64decode(payload), base64.urlsafe_b64decode(other[-64:])
    return f"{prefix}_{kid}_" + base64.urlsafe_b64encode(other_raw[:16] + raw[16:]).decode()


def start_two_workers(deployment: Deployment) -> tuple[Server, str]:
    # A place for every racer in each process: one left waiting for a place on a busy machine is
    # shed with a 503 after IMPRINT_MAX_QUEUE_SECONDS, and a shed racer is not in the race.
    deployment.env["IMPRINT_MAX_IN_FLIGHT"] = str(RACERS)
    server = deployment.start("--workers", "2")
    return server, server.api_key()


# The load tests' work is in the server processes they start (never measured): a tracer here would
# only slow their clients, which are most of this process's CPU.
@pytest.mark.slow
@pytest.mark.no_cover
async def test_two_hundred_simultaneous_exchanges_per_secret_succeed_exactly_once(
    deployment: Deployment, backend: str
) -> None:
    server, key = start_two_workers(deployment)
    try:
        sessions = create_sessions(server, key, SESSIONS)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            # A secret cannot be re-aimed at another customer's session: its MAC covers the id.
            for this, other in zip(sessions, sessions[1:] + sessions[:1], strict=True):
                spliced = client.post(
                    "/v2/client/exchange",
                    json={"client_secret": splice(this.client_secret, other.client_secret)},
                )
                assert spliced.status_code == 401
                assert {k: v for k, v in spliced.json().items() if k != "timestamp"} == (
                    INVALID_SECRET
                )

        result = await race(server, sessions)
        print(f"\n[exactly-once, {backend}, 2 workers] {result.figures()}")
        assert_exactly_once(result)

        # Each credential speaks for its own session and customer, and no other.
        tokens = set()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for session in sessions:
                (issued,) = result.successes[session.id]
                assert issued["customer_session_id"] == session.id
                tokens.add(issued["access_token"])
                auth = {"Authorization": f"Bearer {issued['access_token']}"}
                context = client.get("/v2/client/session", headers=auth).json()
                profile = client.get("/v2/client/profile", headers=auth).json()
                assert context["customer_session_id"] == session.id
                assert context["partner_customer_id"] == session.partner_customer_id
                assert profile["id"] == context["customer_id"]
                assert profile["partner_customer_id"] == session.partner_customer_id
                assert profile["email"] == session.email
        assert len(tokens) == SESSIONS
    finally:
        server.stop()
    assert "database is locked" not in server.stderr()
    assert "Traceback" not in server.stderr()


@pytest.mark.slow
@pytest.mark.no_cover  # a load test (see above)
async def test_racy_exchange_switch_lets_a_secret_succeed_twice(
    deployment: Deployment, backend: str
) -> None:
    """Negative control: with a read-then-write exchange the same load breaks the exactly-once
    assertion, so that assertion can fail."""
    deployment.env["IMPRINT_UNSAFE_RACY_EXCHANGE"] = "true"
    server, key = start_two_workers(deployment)
    rounds: list[Race] = []
    try:
        for _ in range(NEGATIVE_ROUNDS):
            rounds.append(await race(server, create_sessions(server, key, NEGATIVE_SESSIONS)))
            print(f"\n[racy control, {backend}, 2 workers] {rounds[-1].figures()}")
            if max(rounds[-1].success_counts()) > 1:
                break
    finally:
        server.stop()
    assert max(rounds[-1].success_counts()) > 1, [r.figures() for r in rounds]
    with pytest.raises(AssertionError):
        assert_exactly_once(rounds[-1])
    assert server.stderr().count("IMPRINT_UNSAFE_RACY_EXCHANGE is on") == 2  # one per worker


def test_racy_exchange_switch_outside_the_sandbox_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="IMPRINT_UNSAFE_RACY_EXCHANGE is a test switch"):
        Settings(env="production", secret_key=TEST_SECRET_KEY, unsafe_racy_exchange=True)
    assert not Settings(env="production", secret_key=TEST_SECRET_KEY).unsafe_racy_exchange
    assert Settings(env="sandbox", unsafe_racy_exchange=True).unsafe_racy_exchange
    # From the environment, as an operator would set it.
    monkeypatch.setenv("IMPRINT_ENV", "production")
    monkeypatch.setenv("IMPRINT_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("IMPRINT_UNSAFE_RACY_EXCHANGE", "true")
    with pytest.raises(ValidationError, match="IMPRINT_UNSAFE_RACY_EXCHANGE is a test switch"):
        Settings()


def test_production_process_with_the_racy_switch_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
    env.update(
        IMPRINT_ENV="production",
        IMPRINT_SECRET_KEY=TEST_SECRET_KEY,
        IMPRINT_DATABASE_URL=f"sqlite:///{tmp_path / 'refused.sqlite3'}",
        IMPRINT_UNSAFE_RACY_EXCHANGE="true",
    )
    result = cli(env, "db", "upgrade")
    assert result.returncode != 0
    # The message as printed (the traceback renderer wraps lines to the terminal's width).
    assert "IMPRINT_UNSAFE_RACY_EXCHANGE is a test switch" in " ".join(result.stderr.split())
    assert not (tmp_path / "refused.sqlite3").exists()
