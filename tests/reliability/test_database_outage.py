"""PostgreSQL cut off, restarted or frozen under load: a 200 or a quick 503, then only 200s."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx
import psycopg
import pytest

from conftest import _REGISTRY, TEST_SECRET_KEY, Harness, _remember_secrets
from e2e.conftest import Deployment, Server, open_deployment
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.partner_api.idempotency import (
    RELEASE_CONFIRMATIONS,
    RELEASE_RETRY_SECONDS,
    RELEASE_WAIT_SECONDS,
)
from imprint_sessions.storage import migrate
from reliability.pg_cluster import PgCluster, private_cluster, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("database-outage")]

DBNAME = "imprint_outage"
WORKERS = 2
CLIENTS = 12  # concurrent clients, each with one request in flight at a time
PACE_SECONDS = 0.1  # each client's pause between iterations (keeps the credential count modest)
PAUSE_SECONDS = 10.0  # how long PostgreSQL is frozen (SIGSTOP)
RECOVERY_SECONDS = 10.0  # errors must stop within this long after the database is back
STEADY_SECONDS = 1.5  # a spell of nothing but 200s that counts as "recovered"
SLACK_SECONDS = 1.5  # scheduling on a loaded 2-core CI machine
CLIENT_TIMEOUT_SECONDS = 60.0  # far beyond any bound: a hang shows as slow, not as a stuck test
IN_USE = '"type":"IDEMPOTENCY_KEY_IN_USE"'

# Every bound comes from the settings the servers run with: the production defaults.
STATEMENT_TIMEOUT = float(Settings.model_fields["db_statement_timeout_seconds"].default)
POOL_TIMEOUT = float(Settings.model_fields["db_pool_timeout_seconds"].default)
POOL_SIZE = int(Settings.model_fields["db_pool_size"].default)
# A request waits for a connection at most POOL_TIMEOUT, then for its statement at most
# STATEMENT_TIMEOUT, and fails at the first that runs out; a keyed create that fails then tries
# to free its key for at most RELEASE_WAIT_SECONDS before answering.
RESPONSE_BOUND = POOL_TIMEOUT + STATEMENT_TIMEOUT + RELEASE_WAIT_SECONDS + SLACK_SECONDS


@dataclass(frozen=True)
class Outcome:
    kind: str  # create, create-retry, retrieve, exchange
    started: float  # time.monotonic()
    ended: float
    status: int  # 0: no HTTP answer at all (a transport error)
    retry_after: str | None
    detail: str

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Disturbance:
    name: str
    started: float
    recovered: float = 0.0  # the database is back (the disturbing command returned)
    until: float = 0.0  # the next disturbance (or the end of the load)
    connections: int = 0  # the pools' connections once the clients saw only 200s again


@dataclass
class Load:
    """``CLIENTS`` clients in a thread of their own: create (half with an Idempotency-Key, retried
    with it until acknowledged), read back, exchange a third; every answer recorded."""

    base_url: str
    api_key: str
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # session id -> partner_customer_id
    keyed: set[str] = field(default_factory=set)  # partner_customer_ids created with a key
    exchanged: set[str] = field(default_factory=set)  # session ids whose exchange answered 200
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        basic = base64.b64encode(f"{self.api_key}:".encode()).decode()
        self._auth = {"authorization": f"Basic {basic}"}
        self._tag = secrets.token_hex(3)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(CLIENT_TIMEOUT_SECONDS + 10)
        assert not self._thread.is_alive(), "the load clients did not stop"

    def snapshot(self) -> list[Outcome]:
        return list(self.outcomes)

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=CLIENTS * 2, max_keepalive_connections=CLIENTS * 2)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
        ) as http:
            await asyncio.gather(*(self._client(http, n) for n in range(CLIENTS)))

    async def _call(
        self, http: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: object
    ) -> tuple[Outcome, httpx.Response | None]:
        started = time.monotonic()
        try:
            response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            outcome = Outcome(kind, started, time.monotonic(), 0, None, repr(exc))
            self.outcomes.append(outcome)
            return outcome, None
        detail = "" if response.status_code == 200 else response.text[:300]
        outcome = Outcome(
            kind,
            started,
            time.monotonic(),
            response.status_code,
            response.headers.get("retry-after"),
            detail,
        )
        self.outcomes.append(outcome)
        return outcome, response

    async def _client(self, http: httpx.AsyncClient, n: int) -> None:
        mine: list[str] = []
        i = 0
        while not self.stop.is_set():
            i += 1
            created = await self._create(http, n, i, keyed=i % 2 == 0)
            if created is not None:
                session_id, client_secret = created
                mine.append(session_id)
                await self._call(
                    http,
                    "retrieve",
                    "GET",
                    f"/v2/customer_sessions/{session_id}",
                    headers=self._auth,
                )
                if i % 3 == 0:  # a third are exchanged (each exchange mints a credential)
                    outcome, response = await self._call(
                        http, "exchange", "POST", "/v2/client/exchange",
                        json={"client_secret": client_secret},
                    )  # fmt: skip
                    if response is not None and outcome.status == 200:
                        _REGISTRY.remember(response.json()["access_token"])
                        self.exchanged.add(session_id)
            if mine:  # and an older one again
                await self._call(
                    http, "retrieve", "GET", f"/v2/customer_sessions/{mine[i % len(mine)]}",
                    headers=self._auth,
                )  # fmt: skip
            await asyncio.sleep(PACE_SECONDS)

    async def _create(
        self, http: httpx.AsyncClient, n: int, i: int, *, keyed: bool
    ) -> tuple[str, str] | None:
        partner_customer_id = f"OUT_{self._tag}_{n}_{i}"
        body = json.dumps({"partner_customer_id": partner_customer_id}).encode()
        headers = {**self._auth, "content-type": "application/json"}
        if keyed:
            headers["idempotency-key"] = f"outage-{self._tag}-{n}-{i}"
            self.keyed.add(partner_customer_id)
        kind = "create"
        while True:
            outcome, response = await self._call(
                http, kind, "POST", "/v2/customer_sessions", content=body, headers=headers
            )
            if response is not None and outcome.status == 200:
                answer = response.json()
                _REGISTRY.remember(answer["client_secret"])
                self.acknowledged[answer["id"]] = partner_customer_id
                return answer["id"], answer["client_secret"]
            # Without a key a 503 is the end of it (its effect is unknown). With one, retry it
            # as the README tells clients to, until it is acknowledged: after Retry-After on a
            # 503, and shortly on a 409 IDEMPOTENCY_KEY_IN_USE (the failed attempt's key is
            # still being released: its release waits for the database too).
            in_use = outcome.status == 409 and IN_USE in outcome.detail
            if not keyed or not (outcome.status == 503 or in_use) or self.stop.is_set():
                return None
            kind = "create-retry"
            await asyncio.sleep(float(outcome.retry_after or 1))


@dataclass
class Report:
    name: str
    requests: int
    statuses: dict[int, int]
    max_seconds: float
    max_503_seconds: float
    errors_seconds: float  # from the first failed answer's request to the last failed answer
    recovery_seconds: float  # from the database's return to the last failed answer
    connections_after: int


def summarise(d: Disturbance, outcomes: list[Outcome]) -> Report:
    """What the clients saw of one disturbance: the answers given from its start to the next's."""
    seen = [o for o in outcomes if d.started <= o.ended < d.until]
    failed = [o for o in seen if o.status != 200]
    last_failure = max((o.ended for o in failed), default=d.recovered)
    return Report(
        name=d.name,
        requests=len(seen),
        statuses=dict(sorted(Counter(o.status for o in seen).items())),
        max_seconds=max((o.seconds for o in seen), default=0.0),
        max_503_seconds=max((o.seconds for o in seen if o.status == 503), default=0.0),
        errors_seconds=last_failure - min((o.started for o in failed), default=last_failure),
        recovery_seconds=max(0.0, last_failure - d.recovered),
        connections_after=d.connections,
    )


def readyz(server: Server) -> int:
    try:
        return httpx.get(f"{server.base_url}/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def recovered(load: Load, server: Server, since: float) -> bool:
    """Ready again, and the clients have had nothing but 200s for a steady spell."""
    now = time.monotonic()
    recent = [o for o in load.snapshot() if o.started >= max(since, now - STEADY_SECONDS)]
    return (
        now - since >= STEADY_SECONDS
        and len(recent) >= CLIENTS
        and all(o.status == 200 for o in recent)
        and readyz(server) == 200
    )


def disturb(
    name: str,
    load: Load,
    server: Server,
    cluster: PgCluster,
    action: object,
    log: list[Disturbance],
) -> None:
    """Run ``action`` (which returns once the database is back) and wait for recovery."""
    if log:
        log[-1].until = time.monotonic()
    disturbance = Disturbance(name, time.monotonic())
    log.append(disturbance)
    assert callable(action)
    action()
    disturbance.recovered = time.monotonic()
    back = wait_until(
        lambda: recovered(load, server, disturbance.recovered), RECOVERY_SECONDS + STEADY_SECONDS
    )
    assert back, f"{name}: no steady spell of 200s within {RECOVERY_SECONDS} s of recovery"
    assert server.process.poll() is None, server.stderr()[-3000:]
    disturbance.connections = cluster.connections(DBNAME)


@pytest.fixture
def deployment(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Deployment]:
    url = pg_cluster.create_database(DBNAME)
    with open_deployment("postgresql", tmp_path, database_url=url) as opened:
        # The clients measure the database, not the rate limit (100/s per key by default).
        opened.env["IMPRINT_RATE_LIMIT_PER_SECOND"] = "0"
        try:
            yield opened
        finally:
            for server in opened.servers:
                server.stop()  # its stderr joins the leak registry


# Its work is in the server processes it starts (never measured): a tracer here would only slow
# its load clients.
@pytest.mark.no_cover
def test_database_outages_under_load_answer_200_or_quick_503_and_recover(
    deployment: Deployment, pg_cluster: PgCluster
) -> None:
    server = deployment.start("--workers", str(WORKERS))
    api_key = server.api_key()
    log: list[Disturbance] = []
    with Load(server.base_url, api_key) as load:
        assert wait_until(lambda: len(load.snapshot()) >= 10 * CLIENTS, 30), "no load"
        warm_up_end = time.monotonic()
        assert {o.status for o in load.snapshot()} == {200}, load.snapshot()[:3]

        # (a) every backend killed at once (pg_terminate_backend: what a failover or an
        # operator's cleanup does), three times in a row.
        killed: list[int] = []

        def terminate() -> None:
            for _ in range(3):
                killed.append(pg_cluster.terminate_backends(DBNAME))
                time.sleep(0.3)

        disturb("terminate backends", load, server, pg_cluster, terminate, log)
        assert killed[0] > 0, killed  # the pools held connections, and lost them
        # (b) a restart: connections refused while it is down, then a cold server.
        disturb("restart", load, server, pg_cluster, pg_cluster.restart, log)

        # (c) frozen: connections stay open and nothing answers (a stalled disk, a VM pause).
        def freeze() -> None:
            pg_cluster.pause()
            try:
                time.sleep(PAUSE_SECONDS)
            finally:
                pg_cluster.resume()

        disturb("pause 10 s", load, server, pg_cluster, freeze, log)
        time.sleep(1.0)
        log[-1].until = time.monotonic()
    outcomes = load.snapshot()
    connections_after = pg_cluster.connections(DBNAME)

    reports = [summarise(d, outcomes) for d in log]
    statuses = Counter(o.status for o in outcomes)
    print(f"\n{len(outcomes)} requests, statuses {dict(sorted(statuses.items()))}")
    for report, d in zip(reports, log, strict=True):
        print(report)
        for o in outcomes:  # the failures answered after the database was back
            if o.status != 200 and d.recovered <= o.ended < d.until:
                at = o.started - d.recovered
                print(f"  {at:+.2f} s, {o.seconds:.2f} s: {o.kind} {o.status} {o.detail[:80]}")

    # Never a 500, a hang, a dropped connection or any status but 200 and 503; a keyed create's
    # retry may also hear that its failed first attempt still holds the key (409, retry shortly).
    unexpected = [
        o
        for o in outcomes
        if o.status not in (200, 503)
        and not (o.kind == "create-retry" and o.status == 409 and IN_USE in o.detail)
    ]
    assert unexpected == [], unexpected[:5]
    # Every 503 says when to come back.
    assert all(o.retry_after == "1" for o in outcomes if o.status == 503)
    # Each one answered within the configured bound.
    slowest = max(outcomes, key=lambda o: o.seconds)
    assert slowest.seconds <= RESPONSE_BOUND, slowest
    # Each disturbance was seen, and the errors stopped within RECOVERY_SECONDS of its end.
    for report, d in zip(reports, log, strict=True):
        if d.name != "terminate backends":  # idle connections may be replaced unnoticed
            assert report.statuses.get(503, 0) > 0, f"{d.name}: the clients never noticed it"
        assert report.recovery_seconds <= RECOVERY_SECONDS, report
        # The pools recovered: no more connections than they may hold.
        assert 0 < d.connections <= POOL_SIZE * WORKERS, report
        late = [
            o
            for o in outcomes
            if o.status != 200 and d.recovered + RECOVERY_SECONDS <= o.started and o.ended < d.until
        ]
        assert late == [], late[:3]
    assert all(o.status == 200 for o in outcomes if o.ended <= warm_up_end)

    assert 0 < connections_after <= POOL_SIZE * WORKERS
    assert readyz(server) == 200

    # Every acknowledged session survived; a keyed create made exactly one session, however
    # often it was retried; every acknowledged exchange stayed consumed.
    with psycopg.connect(pg_cluster.url(DBNAME)) as conn:
        rows = conn.execute(
            "SELECT upper(s.id::text), c.partner_customer_id, s.consumed_at IS NOT NULL "
            "FROM customer_sessions s JOIN customers c ON c.id = s.customer_id"
        ).fetchall()
    stored = {row[0]: row[1] for row in rows}
    consumed = {row[0] for row in rows if row[2]}
    lost = set(load.acknowledged) - set(stored)
    assert lost == set(), f"{len(lost)} acknowledged sessions lost"
    per_customer = Counter(stored.values())
    assert all(per_customer[pcid] == 1 for pcid in load.keyed if pcid in per_customer)
    assert load.exchanged <= consumed
    with httpx.Client(base_url=server.base_url, auth=(api_key, ""), timeout=10) as client:
        for session_id in sorted(load.acknowledged)[:: max(1, len(load.acknowledged) // 25)]:
            response = client.get(f"/v2/customer_sessions/{session_id}")
            assert response.status_code == 200, response.text
            assert response.json()["id"] == session_id
    print(
        f"acknowledged {len(load.acknowledged)} sessions ({len(load.keyed)} keyed creates), "
        f"{len(load.exchanged)} exchanges; lost 0; stored {len(stored)}"
    )
    assert '"level":"ERROR"' not in server.stderr()  # no unhandled error, logged or not


# -- regressions, in process: the app over ASGI on the private cluster -----------------------------
INPROC_STATEMENT_TIMEOUT = 1.0
INPROC_POOL_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    """One private server for the in-process tests (each uses a database of its own)."""
    with private_cluster() as started:
        yield started


@asynccontextmanager
async def in_process(
    cluster: PgCluster, tmp_path: Path, *, clock: ManualClock | None = None, **settings: Any
) -> AsyncIterator[tuple[Harness, str]]:
    """The app in this process on a fresh database of ``cluster``, short timeouts unless given:
    ``(harness, database name)``."""
    dbname = f"imprint_inproc_{secrets.token_hex(3)}"
    url = cluster.create_database(dbname)
    await anyio.to_thread.run_sync(migrate.upgrade, url)  # it runs an event loop of its own
    options: dict[str, Any] = {
        "db_statement_timeout_seconds": INPROC_STATEMENT_TIMEOUT,
        "db_pool_timeout_seconds": INPROC_POOL_TIMEOUT,
        "db_pool_size": 2,
        "rate_limit_per_second": 0,
        **settings,
    }
    app = create_app(
        Settings(
            env="sandbox",
            data_dir=tmp_path / "data",
            secret_key=TEST_SECRET_KEY,
            database_url=url,
            log_level="DEBUG",
            **options,
        ),
        clock=clock,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            event_hooks={"response": [_remember_secrets]},
        ) as client:
            yield Harness(app=app, client=client, services=app.state.services), dbname


def assert_quick_503(response: httpx.Response, elapsed: float, bound: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["details"][0].startswith("database: ")
    assert elapsed <= bound, elapsed


async def test_frozen_database_answers_503_within_the_statement_timeout(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """IMPRINT_DB_STATEMENT_TIMEOUT_SECONDS bounds a statement (it was a fixed 30 s), and the
    timed-out connection is discarded rather than handed to the next request mid-cancel."""
    async with in_process(cluster, tmp_path) as (harness, _):
        _, key = await harness.new_partner()
        created = await harness.client.post(
            "/v2/customer_sessions", json={"partner_customer_id": "P1"}, auth=(key, "")
        )
        assert created.status_code == 200, created.text
        path = f"/v2/customer_sessions/{created.json()['id']}"
        cluster.pause()
        try:
            started = time.monotonic()
            with anyio.fail_after(INPROC_STATEMENT_TIMEOUT + INPROC_POOL_TIMEOUT + 10):
                frozen = await harness.client.get(path, auth=(key, ""))
            elapsed = time.monotonic() - started
        finally:
            cluster.resume()
        bound = INPROC_STATEMENT_TIMEOUT + INPROC_POOL_TIMEOUT + SLACK_SECONDS
        assert_quick_503(frozen, elapsed, bound)
        for _ in range(3):  # the pool serves again at once, on fresh connections
            again = await harness.client.get(path, auth=(key, ""))
            assert again.status_code == 200, again.text


async def test_database_frozen_mid_transaction_answers_503_not_500(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """A statement timing out inside a unit of work discards its connection: no ROLLBACK on a
    dead or stuck connection (it raised, and the request became a 500)."""
    async with in_process(cluster, tmp_path) as (harness, dbname):
        _, key = await harness.new_partner()
        locker = await psycopg.AsyncConnection.connect(cluster.url(dbname))
        try:
            await locker.execute("LOCK TABLE customer_sessions IN ACCESS EXCLUSIVE MODE")
            # A keyed create: claim, BEGIN, then its INSERT waits for the lock, in a transaction.
            request = asyncio.create_task(
                harness.client.post(
                    "/v2/customer_sessions",
                    json={"partner_customer_id": "P1"},
                    auth=(key, ""),
                    headers={"idempotency-key": "frozen-mid-transaction"},
                )
            )
            await asyncio.sleep(0.3)
            cluster.pause()
            try:
                started = time.monotonic()
                with anyio.fail_after(INPROC_STATEMENT_TIMEOUT + 15):
                    frozen = await request
                elapsed = time.monotonic() - started
            finally:
                cluster.resume()
        finally:
            await locker.rollback()
            await locker.close()
        bound = INPROC_STATEMENT_TIMEOUT + RELEASE_WAIT_SECONDS + SLACK_SECONDS
        assert_quick_503(frozen, elapsed, bound)
        retried = await harness.client.post(
            "/v2/customer_sessions",
            json={"partner_customer_id": "P1"},
            auth=(key, ""),
            headers={"idempotency-key": "frozen-mid-transaction-2"},
        )
        assert retried.status_code == 200, retried.text


async def test_connection_lost_inside_a_unit_of_work_is_503_and_the_block_exits_cleanly(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """A connection asyncpg already gave back to the pool (its backend was terminated) raised
    from ``is_closed()`` while the unit of work cleaned up: a 500 instead of the 503."""
    async with in_process(cluster, tmp_path) as (harness, dbname):
        partner_id, _ = await harness.new_partner()
        database = harness.services.database

        async def cut_off() -> None:
            async with database.unit_of_work() as uow:
                assert await uow.repositories.get_partner(partner_id) is not None
                assert cluster.terminate_backends(dbname) >= 1
                await asyncio.sleep(0.5)  # asyncpg reads the FATAL and the end of the stream
                await uow.repositories.get_partner(partner_id)

        with pytest.raises(ServiceUnavailable):
            await cut_off()
        assert await database.repositories.get_partner(partner_id) is not None


async def test_pooled_connection_whose_backend_was_terminated_while_idle_is_503_then_replaced(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """asyncpg raises InternalClientError ("another operation is in progress") on an idle pooled
    connection that has read its backend's FATAL but not yet the end of the stream: it escaped
    as a 500. Now a 503, and the pool's next connection works."""
    async with in_process(cluster, tmp_path) as (harness, dbname):
        partner_id, _ = await harness.new_partner()
        repositories = harness.services.database.repositories
        assert await repositories.get_partner(partner_id) is not None
        assert cluster.terminate_backends(dbname) >= 1
        time.sleep(0.3)  # the FATAL and the end of stream wait in the socket; the loop is held
        await asyncio.sleep(0)  # one turn of the loop reads the FATAL ...
        await asyncio.sleep(0)  # ... and this task runs before the turn that reads the end
        with pytest.raises(ServiceUnavailable) as raised:
            await repositories.get_partner(partner_id)
        assert isinstance(raised.value.__cause__, asyncpg.InternalClientError), raised.value
        assert await repositories.get_partner(partner_id) is not None


async def test_key_of_a_create_cut_off_during_its_claim_is_free_once_the_database_is_back(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """A claim the frozen database ran after the request had given up on it (when asyncpg's
    cancel request loses the race) held the key: every retry got 409 IDEMPOTENCY_KEY_IN_USE for
    the whole 60 s lease. It is now released once the database is back, even when it lands
    after the first release."""
    clock = ManualClock(time.time_ns() // 1_000_000)  # to know the claim's timestamp
    async with in_process(cluster, tmp_path, clock=clock) as (harness, dbname):
        partner_id, key = await harness.new_partner()
        warm = await harness.client.get("/v2/customers", auth=(key, ""))  # caches the key
        assert warm.status_code == 200, warm.text
        body = json.dumps({"partner_customer_id": "P1"}).encode()
        headers = {"idempotency-key": "cut-off-claim", "content-type": "application/json"}
        cluster.pause()
        try:
            with anyio.fail_after(INPROC_STATEMENT_TIMEOUT + 10):
                first = await harness.client.post(
                    "/v2/customer_sessions", content=body, auth=(key, ""), headers=headers
                )
        finally:
            cluster.resume()
        failed_at = time.monotonic()
        assert first.status_code == 503, first.text
        # The frozen claim lands after the first background release has looked for it (the
        # database reached that connection's queue later): what the claim statement writes.
        await anyio.sleep(RELEASE_RETRY_SECONDS * 1.5)
        fingerprint = harness.services.box.request_fingerprint(
            "POST", "/v2/customer_sessions", body
        )
        now = clock.now_ms()
        async with await psycopg.AsyncConnection.connect(
            cluster.url(dbname), autocommit=True
        ) as admin:
            await admin.execute(
                "INSERT INTO idempotency_keys (partner_id, key, request_hash, status, created_at,"
                " expires_at) VALUES (%s, %s, %s, 'in_flight', %s, %s) ON CONFLICT DO NOTHING",
                (partner_id, "cut-off-claim", fingerprint, now, now + 86_400_000),
            )
        answers: list[int] = []
        while time.monotonic() < failed_at + RELEASE_RETRY_SECONDS * (RELEASE_CONFIRMATIONS + 3):
            retry = await harness.client.post(
                "/v2/customer_sessions", content=body, auth=(key, ""), headers=headers
            )
            answers.append(retry.status_code)
            if retry.status_code == 200:
                break
            await anyio.sleep(0.25)
        assert answers[-1] == 200, answers
        assert set(answers) <= {200, 409}, answers
