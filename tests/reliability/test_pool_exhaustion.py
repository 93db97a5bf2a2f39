"""More slow requests than pooled connections: the excess get a quick 503, /readyz says why."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
import psycopg
import pytest

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, open_deployment
from imprint_sessions.config import Settings
from imprint_sessions.storage.postgres.runner import READINESS_TIMEOUT_SECONDS
from reliability.pg_cluster import PgCluster, wait_until
from reliability.test_database_outage import cluster, in_process

pytestmark = pytest.mark.slow

__all__ = ["cluster"]  # the module-scoped private server of the in-process tests

DBNAME = "imprint_pool"
POOL_SIZE = 4
WAVE = 3 * POOL_SIZE  # concurrent creates: the pool holds a third of them
SLACK_SECONDS = 1.0  # scheduling on a loaded 2-core CI machine
# The production defaults: only the pool size is made small.
POOL_TIMEOUT = float(Settings.model_fields["db_pool_timeout_seconds"].default)
STATEMENT_TIMEOUT = float(Settings.model_fields["db_statement_timeout_seconds"].default)
# The creates holding a connection wait this long for a table lock: longer than the excess wait
# for a connection, shorter than a statement may take.
HOLD_SECONDS = (POOL_TIMEOUT + STATEMENT_TIMEOUT) / 2
EXHAUSTED = "database: connection pool exhausted"
STUCK = "database: did not answer in time"
BUSY = f"database: no connection available within {POOL_TIMEOUT:g} s"


@dataclass
class Answer:
    status: int
    seconds: float
    retry_after: str | None
    details: list[str]


@dataclass
class Wave:
    creates: list[Answer] = field(default_factory=list)
    readiness: list[tuple[float, Answer]] = field(default_factory=list)  # (seconds into the wave)

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.creates)

    def figures(self) -> str:
        busy = [a.seconds for a in self.creates if a.status == 503]
        served = [a.seconds for a in self.creates if a.status == 200]
        ready = [a.seconds for _, a in self.readiness]
        return (
            f"{len(self.creates)} creates: {dict(sorted(self.statuses().items()))}; "
            f"503 in {min(busy, default=0):.2f}-{max(busy, default=0):.2f} s, 200 in "
            f"{min(served, default=0):.2f}-{max(served, default=0):.2f} s; "
            f"{len(ready)} /readyz answers in at most {max(ready, default=0):.3f} s, "
            f"statuses {dict(Counter(a.status for _, a in self.readiness))}"
        )


async def timed(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> Answer:
    started = time.monotonic()
    response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    seconds = time.monotonic() - started
    details = [] if response.status_code == 200 else response.json().get("details", [])
    if response.status_code == 200 and url == "/v2/customer_sessions":
        _REGISTRY.remember(response.json()["client_secret"])
    return Answer(response.status_code, seconds, response.headers.get("retry-after"), details)


async def wave(
    server: Server, api_key: str, *, locked_by: str | None, hold: float = HOLD_SECONDS
) -> Wave:
    """``WAVE`` creates at once; if ``locked_by`` (a database URL), an admin transaction holds
    customer_sessions locked for ``hold`` seconds meanwhile, and /readyz is polled."""
    result = Wave()
    basic = base64.b64encode(f"{api_key}:".encode()).decode()
    headers = {"authorization": f"Basic {basic}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=WAVE + 4, max_keepalive_connections=WAVE + 4)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
        warm = await client.get("/v2/customers?limit=1", headers=headers)  # caches the key
        assert warm.status_code == 200, warm.text
        locker = None
        if locked_by is not None:
            locker = await psycopg.AsyncConnection.connect(locked_by)
            await locker.execute("LOCK TABLE customer_sessions IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        bodies = [json.dumps({"partner_customer_id": f"POOL_{n}"}).encode() for n in range(WAVE)]
        creates = [
            asyncio.create_task(
                timed(client, "POST", "/v2/customer_sessions", headers=headers, content=body)
            )
            for body in bodies
        ]
        if locker is not None:
            try:
                await asyncio.sleep(0.5)  # every create has reached the server
                while time.monotonic() - started < hold - 0.3:
                    at = time.monotonic() - started
                    result.readiness.append((at, await timed(client, "GET", "/readyz")))
                    await asyncio.sleep(0.25)
            finally:
                await locker.rollback()
                await locker.close()
        result.creates = await asyncio.gather(*creates)
    return result


@pytest.fixture
def deployment(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Deployment]:
    url = pg_cluster.create_database(DBNAME)
    with open_deployment("postgresql", tmp_path, database_url=url) as opened:
        opened.env["IMPRINT_DB_POOL_SIZE"] = str(POOL_SIZE)
        opened.env["IMPRINT_RATE_LIMIT_PER_SECOND"] = "0"
        try:
            yield opened
        finally:
            for server in opened.servers:
                server.stop()  # its stderr joins the leak registry


def test_more_slow_requests_than_connections_get_quick_503s_and_nothing_leaks(
    deployment: Deployment, pg_cluster: PgCluster
) -> None:
    assert POOL_TIMEOUT + SLACK_SECONDS < HOLD_SECONDS < STATEMENT_TIMEOUT - SLACK_SECONDS
    server = deployment.start("--workers", "1")
    api_key = server.api_key()
    url = pg_cluster.url(DBNAME)
    for _ in range(2):  # the second finds everything as the first found it: nothing leaked
        result = asyncio.run(wave(server, api_key, locked_by=url))
        print(f"\nlocked wave: {result.figures()}")

        # The pool's connections finish their (slow) creates; the excess is refused quickly.
        assert result.statuses() == Counter({200: POOL_SIZE, 503: WAVE - POOL_SIZE})
        for answer in result.creates:
            if answer.status == 503:
                assert answer.retry_after == "1"
                assert answer.details == [BUSY]
                assert POOL_TIMEOUT - 0.1 <= answer.seconds <= POOL_TIMEOUT + SLACK_SECONDS
            else:
                assert answer.seconds >= HOLD_SECONDS - 0.5  # they did wait for the lock
        # /readyz said so all along, at once, without waiting for a connection.
        assert result.readiness, "/readyz was never asked"
        for _, answer in result.readiness:
            assert answer.status == 503
            assert answer.retry_after == "1"
            assert answer.details == [
                f"{EXHAUSTED} ({POOL_SIZE} of {POOL_SIZE} connections in use)"
            ]
            assert answer.seconds <= READINESS_TIMEOUT_SECONDS

        # Afterwards: ready, and no more connections than the pool may hold.
        assert wait_until(lambda: httpx.get(f"{server.base_url}/readyz").status_code == 200, 5)
        assert 0 < pg_cluster.connections(DBNAME) <= POOL_SIZE

    # The lock outlasts the statement timeout: the creates holding connections give up too, and
    # their connections (mid-statement when they gave up) are discarded, not handed on.
    stuck = asyncio.run(wave(server, api_key, locked_by=url, hold=STATEMENT_TIMEOUT + 1.0))
    print(f"wave locked past the statement timeout: {stuck.figures()}")
    assert stuck.statuses() == Counter({503: WAVE})
    assert Counter(a.details[0] for a in stuck.creates) == Counter(
        {STUCK: POOL_SIZE, BUSY: WAVE - POOL_SIZE}
    )
    for answer in stuck.creates:
        limit = STATEMENT_TIMEOUT if answer.details == [STUCK] else POOL_TIMEOUT
        assert limit - 0.1 <= answer.seconds <= limit + SLACK_SECONDS
    # Not ready while the pool was exhausted; ready again once its connections were given up.
    for at, answer in stuck.readiness:
        assert answer.seconds <= READINESS_TIMEOUT_SECONDS
        if at < STATEMENT_TIMEOUT - 0.2:
            assert (answer.status, answer.details[0][: len(EXHAUSTED)]) == (503, EXHAUSTED)
    assert wait_until(lambda: httpx.get(f"{server.base_url}/readyz").status_code == 200, 5)
    assert 0 < pg_cluster.connections(DBNAME) <= POOL_SIZE

    unlocked = asyncio.run(wave(server, api_key, locked_by=None))
    print(f"unlocked wave: {unlocked.figures()}")
    assert unlocked.statuses() == Counter({200: WAVE})  # the pool queues short waits fine
    assert 0 < pg_cluster.connections(DBNAME) <= POOL_SIZE
    assert '"level":"ERROR"' not in server.stderr()  # no unhandled error, logged or not


# -- regressions, in process ----------------------------------------------------------------------
async def test_exhausted_pool_readyz_answers_503_at_once_naming_the_cause(
    cluster: PgCluster, tmp_path: Path
) -> None:
    """/readyz waited the whole acquire timeout for a connection when every one was busy, then
    said only "temporarily unavailable"; now it answers at once, and says why."""
    async with in_process(
        cluster,
        tmp_path,
        db_pool_size=1,
        db_pool_timeout_seconds=3.0,
        db_statement_timeout_seconds=5.0,
    ) as (harness, dbname):
        _, key = await harness.new_partner()
        warm = await harness.client.get("/v2/customers", auth=(key, ""))  # caches the key
        assert warm.status_code == 200, warm.text
        async with await psycopg.AsyncConnection.connect(cluster.url(dbname)) as locker:
            await locker.execute("LOCK TABLE customer_sessions IN ACCESS EXCLUSIVE MODE")
            create = asyncio.create_task(
                harness.client.post(
                    "/v2/customer_sessions", json={"partner_customer_id": "P1"}, auth=(key, "")
                )
            )
            await asyncio.sleep(0.3)  # it holds the only connection, waiting for the lock
            started = time.monotonic()
            ready = await harness.client.get("/readyz")
            elapsed = time.monotonic() - started
            await locker.rollback()
        assert ready.status_code == 503, ready.text
        assert ready.headers["retry-after"] == "1"
        assert ready.json()["details"] == [f"{EXHAUSTED} (1 of 1 connections in use)"]
        assert elapsed < READINESS_TIMEOUT_SECONDS
        with anyio.fail_after(10):
            created = await create
        assert created.status_code == 200, created.text
        again = await harness.client.get("/readyz")
        assert again.status_code == 200, again.text
