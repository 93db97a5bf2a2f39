"""A 200 is durable: acknowledged sessions survive SIGKILLs of the server and a PostgreSQL crash."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, open_deployment
from reliability.pg_cluster import PgCluster

pytestmark = pytest.mark.slow

CLIENTS = 16
# Acknowledged creates at which the server is SIGKILLed, PostgreSQL crashes, the load ends.
SERVER_KILLS_AT = (350, 800, 1250)
PG_CRASH_AT = 1700
TARGET_ACKNOWLEDGED = 2100
SHARED_CUSTOMERS = 40  # repeated partner_customer_ids: find-or-create under concurrency
LOAD_DEADLINE_SECONDS = 240  # a guard against a hang, far above what a run takes
SERVE_ARGS = ("--workers", "2")


@dataclass
class Sent:
    """One create as the client sent it: its tag (in metadata) names it in the database."""

    tag: str
    body: dict[str, Any]
    pcid: str | None
    epoch: int  # crashes (server kills and the PostgreSQL crash) before it was sent


@dataclass
class Ledger:
    """Everything the clients saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, tuple[Sent, dict[str, Any]]] = field(default_factory=dict)
    unacknowledged: dict[str, Sent] = field(default_factory=dict)
    refused: int = 0  # connection refused while the server was down: never sent, sent again
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    epoch: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def acked(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def _body(tag: str, pcid: str | None, rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_amount": rng.randrange(100, 1_000_000),
        "customer_history": {"email": f"{tag}@crash.example", "first_name": "Crash"},
        "metadata": {"tag": tag},
    }
    if pcid is not None:
        body["partner_customer_id"] = pcid
    return body


def _client(number: int, base_url: str, key: str, ledger: Ledger) -> None:
    """Create sessions until told to stop: new customers, unique and shared partner ids."""
    rng = random.Random(number)
    with httpx.Client(base_url=base_url, auth=(key, ""), timeout=15) as client:
        sequence = 0
        while not ledger.stop.is_set():
            sequence += 1
            tag = f"c{number}-{sequence}"
            kind = sequence % 4
            pcid = (
                None
                if kind == 0
                else f"U-{tag}"
                if kind == 1
                else f"S-{rng.randrange(SHARED_CUSTOMERS)}"
            )
            sent = Sent(tag, _body(tag, pcid, rng), pcid, ledger.epoch)
            while True:
                try:
                    response = client.post("/v2/customer_sessions", json=sent.body)
                except httpx.ConnectError:
                    # Refused: the server is down and nothing was sent. Send the same create again.
                    with ledger.lock:
                        ledger.refused += 1
                    if ledger.stop.is_set():
                        break
                    time.sleep(0.1)  # the restart takes seconds; spinning would only slow it
                    continue
                except httpx.TransportError as exc:
                    # Cut off in flight (the server died): not acknowledged; it may have committed.
                    with ledger.lock:
                        ledger.unacknowledged[tag] = sent
                        ledger.outcomes[type(exc).__name__] += 1
                    break
                with ledger.lock:
                    ledger.outcomes[str(response.status_code)] += 1
                    if response.status_code == 200:
                        created = response.json()
                        _REGISTRY.remember(created["client_secret"])
                        ledger.acknowledged[tag] = (sent, created)
                    else:
                        ledger.unacknowledged[tag] = sent
                        if response.status_code != 503:
                            ledger.unexpected.append(f"{response.status_code} {response.text}")
                if response.status_code != 200:
                    time.sleep(0.05)  # 503: the database is down; back off a little
                break


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _kill(server: Server) -> None:
    """SIGKILL the server's whole process group (uvicorn's supervisor and its workers)."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    port = int(server.base_url.rpartition(":")[2])
    deadline = time.monotonic() + 10
    while not _port_is_closed(port):  # the workers hold the listening socket until they are gone
        assert time.monotonic() < deadline, "the killed server's workers still hold its port"
        time.sleep(0.02)


def _last_words(server: Server) -> list[str]:
    """The server's last log lines that are neither DEBUG nor the access log."""
    lines = [
        line
        for line in server.stderr().splitlines()
        if '"level":"DEBUG"' not in line and '"imprint_sessions.access"' not in line
    ]
    return [line[:400] for line in lines[-8:]]


@dataclass
class Outcome:
    ledger: Ledger
    kills: int
    seconds: float
    outages: list[float]  # seconds from each crash until the service answered again
    api_key: str
    server: Server


def _run_load(deployment: Deployment, *, crash_database: Callable[[], None] | None) -> Outcome:
    """Start a server, run the clients, SIGKILL the server at ``SERVER_KILLS_AT`` (restarting it on
    the same port) and ``crash_database()`` at ``PG_CRASH_AT``, until ``TARGET_ACKNOWLEDGED``."""
    deployment.env["IMPRINT_RATE_LIMIT_PER_SECOND"] = "0"
    server = deployment.start(*SERVE_ARGS)
    key = server.api_key()
    port = int(server.base_url.rpartition(":")[2])
    ledger = Ledger()
    events = [(at, "kill") for at in SERVER_KILLS_AT]
    if crash_database is not None:
        events.append((PG_CRASH_AT, "crash_database"))
    events.sort()
    started = time.monotonic()
    threads = [
        threading.Thread(target=_client, args=(n, server.base_url, key, ledger), daemon=True)
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    kills, outages = 0, []
    try:
        for at, what in [*events, (TARGET_ACKNOWLEDGED, "end")]:
            while ledger.acked() < at:
                assert time.monotonic() - started < LOAD_DEADLINE_SECONDS, (
                    f"load stalled at {ledger.acked()} acknowledged: {ledger.outcomes}; the"
                    f" server's last words: {_last_words(server)}"
                )
                assert all(t.is_alive() for t in threads), "a client thread died"
                assert not ledger.unexpected, ledger.unexpected[:5]
                time.sleep(0.01)
            with ledger.lock:
                ledger.epoch += 1
            crashed = time.monotonic()
            if what == "kill":
                _kill(server)
                kills += 1
                server = deployment.start(*SERVE_ARGS, port=port)
                outages.append(time.monotonic() - crashed)
            elif what == "crash_database":
                assert crash_database is not None
                crash_database()
                outages.append(time.monotonic() - crashed)
    finally:
        ledger.stop.set()
        for thread in threads:
            thread.join(30)
    return Outcome(ledger, kills, time.monotonic() - started, outages, key, server)


def _verify_through_the_api(outcome: Outcome) -> list[str]:
    """Every acknowledged session retrieves exactly as it was acknowledged."""

    items = list(outcome.ledger.acknowledged.values())

    def check(share: list[tuple[Sent, dict[str, Any]]]) -> list[str]:
        problems = []
        with httpx.Client(
            base_url=outcome.server.base_url, auth=(outcome.api_key, ""), timeout=15
        ) as client:
            for sent, created in share:
                response = client.get(f"/v2/customer_sessions/{created['id']}")
                if response.status_code != 200:
                    problems.append(f"{sent.tag} ({created['id']}): {response.status_code}")
                elif response.json() != created:  # name the fields only: no secret in output
                    got = response.json()
                    fields = sorted(
                        k for k in got.keys() | created.keys() if got.get(k) != created.get(k)
                    )
                    problems.append(f"{sent.tag}: {fields} differ from the acknowledgement")
        return problems

    with ThreadPoolExecutor(4) as pool:
        shares = pool.map(check, [items[n::4] for n in range(4)])
        return [problem for share in shares for problem in share]


# -- what the database holds ---------------------------------------------------------------------
_SESSIONS_SQL = """
SELECT {s_id}, s.metadata, s.transaction_amount, {c_id}, c.partner_customer_id, c.email
FROM customer_sessions s LEFT JOIN customers c ON c.id = s.customer_id
WHERE s.partner_id = {param}
"""
_CUSTOMERS_WITHOUT_SESSIONS_SQL = """
SELECT count(*) FROM customers c WHERE c.partner_id = {param}
AND NOT EXISTS (SELECT 1 FROM customer_sessions s WHERE s.customer_id = c.id)
"""
_DUPLICATE_PCIDS_SQL = """
SELECT count(*) FROM (SELECT partner_customer_id FROM customers WHERE partner_id = {param}
AND partner_customer_id IS NOT NULL GROUP BY partner_customer_id HAVING count(*) > 1) d
"""


Query = Callable[..., list[tuple[Any, ...]]]


@dataclass
class Stored:
    sessions: list[tuple[Any, ...]]  # (id, metadata, amount, customer id, its pcid, its email)
    customers_without_sessions: int
    duplicate_pcids: int
    integrity: list[str]


def _stored(query: Query, integrity: list[str]) -> Stored:
    partners = query("SELECT {p_id} FROM partners")
    assert len(partners) == 1, partners  # the sandbox partner, created on the first start
    partner = partners[0][0]
    return Stored(
        sessions=query(_SESSIONS_SQL, partner),
        customers_without_sessions=query(_CUSTOMERS_WITHOUT_SESSIONS_SQL, partner)[0][0],
        duplicate_pcids=query(_DUPLICATE_PCIDS_SQL, partner)[0][0],
        integrity=integrity,
    )


def _stored_sqlite(path: Path) -> Stored:
    conn = sqlite3.connect(path)
    try:

        def query(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            sql = sql.format(s_id="s.id", c_id="c.id", p_id="id", param="?")
            return conn.execute(sql, args).fetchall()

        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        integrity += [repr(row) for row in conn.execute("PRAGMA foreign_key_check")]
        return _stored(query, integrity)
    finally:
        conn.close()


def _stored_postgres(url: str) -> Stored:
    import psycopg

    with psycopg.connect(url) as conn:

        def query(sql: str, *args: Any) -> list[tuple[Any, ...]]:
            ids = {"s_id": "upper(s.id::text)", "c_id": "upper(c.id::text)", "p_id": "id"}
            return conn.execute(sql.format(**ids, param="%s").encode(), args).fetchall()

        return _stored(query, integrity=[])  # the orphan and half-write checks cover the FKs


@dataclass
class Report:
    acknowledged: int
    unacknowledged: int
    unacknowledged_committed: int
    lost: list[str]
    wrong: list[str]
    phantoms: list[str]
    orphans: int
    verify_seconds: float = 0.0


def _compare(ledger: Ledger, stored: Stored) -> Report:
    """Match every stored session to the create that wrote it (by its metadata tag)."""
    by_tag: dict[str, tuple[str, int | None, str | None, str | None, str | None]] = {}
    phantoms, orphans = [], 0
    for session_id, metadata, amount, customer_id, pcid, email in stored.sessions:
        tag = json.loads(metadata or "{}").get("tag")
        if tag is None or tag in by_tag:
            phantoms.append(f"{session_id}: metadata {metadata}")
            continue
        by_tag[tag] = (session_id, amount, customer_id, pcid, email)
        if customer_id is None:
            orphans += 1
    lost, wrong = [], []
    sessions_per_customer = Counter(row[2] for row in by_tag.values())
    for tag, (sent, created) in ledger.acknowledged.items():
        found = by_tag.get(tag)
        if found is None:
            lost.append(f"{tag} ({created['id']}, epoch {sent.epoch})")
            continue
        session_id, amount, customer_id, pcid, email = found
        problems = []
        if session_id != created["id"]:
            problems.append(f"id {session_id} != {created['id']}")
        if amount != sent.body["transaction_amount"]:
            problems.append(f"transaction_amount {amount}")
        if pcid != sent.pcid:
            problems.append(f"customer's partner_customer_id {pcid!r} != {sent.pcid!r}")
        if sent.pcid is None or sent.pcid.startswith("U-"):
            # This create made the customer: its profile is this create's, and it is its only one.
            if email != sent.body["customer_history"]["email"]:
                problems.append(f"customer's email {email!r}")
            if sessions_per_customer[customer_id] != 1:
                problems.append(f"customer has {sessions_per_customer[customer_id]} sessions")
        if problems:
            wrong.append(f"{tag}: {'; '.join(problems)}")
    attempted = ledger.acknowledged.keys() | ledger.unacknowledged.keys()
    phantoms += [tag for tag in by_tag if tag not in attempted]
    return Report(
        acknowledged=len(ledger.acknowledged),
        unacknowledged=len(ledger.unacknowledged),
        unacknowledged_committed=len(ledger.unacknowledged.keys() & by_tag.keys()),
        lost=lost,
        wrong=wrong,
        phantoms=phantoms,
        orphans=orphans,
    )


def _assert_durable(outcome: Outcome, stored: Stored, *, crashes: int) -> Report:
    ledger = outcome.ledger
    assert ledger.unexpected == [], ledger.unexpected[:5]
    assert outcome.kills == len(SERVER_KILLS_AT)
    # The crashes hit a loaded system: creates were cut off, and every epoch acknowledged some.
    assert len(ledger.unacknowledged) >= crashes, ledger.outcomes
    epochs = Counter(sent.epoch for sent, _ in ledger.acknowledged.values())
    assert all(epochs[epoch] > 0 for epoch in range(crashes + 1)), epochs

    report = _compare(ledger, stored)
    assert report.lost == [], f"{len(report.lost)} acknowledged sessions lost: {report.lost[:5]}"
    assert report.wrong == [], f"{len(report.wrong)} stored wrongly: {report.wrong[:5]}"
    assert report.phantoms == [], f"sessions nobody sent: {report.phantoms[:5]}"
    assert report.orphans == 0, "sessions whose customer does not exist"
    assert stored.customers_without_sessions == 0, "half-written creates: customers, no session"
    assert stored.duplicate_pcids == 0
    assert len(stored.sessions) >= report.acknowledged
    started = time.monotonic()
    problems = _verify_through_the_api(outcome)
    report.verify_seconds = time.monotonic() - started
    assert problems == [], f"{len(problems)} acknowledged sessions not retrievable: {problems[:5]}"
    return report


def _exchange_some(outcome: Outcome) -> None:
    """An acknowledged secret from every epoch still works (it was never consumed or lost)."""
    firsts: dict[int, str] = {}
    for sent, created in outcome.ledger.acknowledged.values():
        firsts.setdefault(sent.epoch, created["client_secret"])
    for secret in firsts.values():
        response = httpx.post(
            f"{outcome.server.base_url}/v2/client/exchange", json={"client_secret": secret}
        )
        assert response.status_code == 200, response.text
        _REGISTRY.remember(response.json()["access_token"])


def _print_figures(backend: str, outcome: Outcome, report: Report, crashes: int) -> None:
    ledger = outcome.ledger
    print(
        f"\n[crash durability, {backend}] creates attempted"
        f" {report.acknowledged + report.unacknowledged}"
        f" (acknowledged {report.acknowledged}, unacknowledged {report.unacknowledged},"
        f" of which committed {report.unacknowledged_committed}), lost 0,"
        f" server SIGKILLs {outcome.kills}, PostgreSQL crashes {crashes - outcome.kills},"
        f" refused while down {ledger.refused}, outcomes {dict(ledger.outcomes)},"
        f" outages {', '.join(f'{o:.1f}' for o in outcome.outages)} s,"
        f" load {outcome.seconds:.1f} s, {report.acknowledged} retrieved in"
        f" {report.verify_seconds:.1f} s"
    )


@contextmanager
def _deployment(tmp_path: Path, database_url: str | None = None) -> Iterator[Deployment]:
    backend = "postgresql" if database_url else "sqlite"
    with open_deployment(backend, tmp_path, database_url=database_url) as deployment:
        try:
            yield deployment
        finally:
            for server in deployment.servers:
                if server.process.poll() is None:
                    server.stop()  # its stderr joins the leak registry
                else:  # killed by the test, or dead by itself
                    _REGISTRY.extra_logs.append(server.stderr())


# The load tests' work is in the server processes they start (never measured): a tracer here would
# only slow their 16 clients, which are most of this process's CPU.
@pytest.mark.no_cover
def test_sigkills_under_load_on_sqlite_lose_no_acknowledged_session(tmp_path: Path) -> None:
    with _deployment(tmp_path) as deployment:
        outcome = _run_load(deployment, crash_database=None)
        stored = _stored_sqlite(tmp_path / "data" / "imprint.sqlite3")
        assert stored.integrity == ["ok"], stored.integrity[:5]
        report = _assert_durable(outcome, stored, crashes=outcome.kills)
        _exchange_some(outcome)
        _print_figures("SQLite", outcome, report, crashes=outcome.kills)


@pytest.mark.no_cover  # a load test (see above)
def test_sigkills_and_a_postgres_crash_under_load_lose_no_acknowledged_session(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    url = pg_cluster.create_database("imprint_crash")

    def crash_database() -> None:
        pg_cluster.stop("immediate")  # no checkpoint: the restart replays the WAL
        time.sleep(0.5)  # the clients meet the outage (503s) before it ends
        pg_cluster.start()

    with _deployment(tmp_path, url) as deployment:
        outcome = _run_load(deployment, crash_database=crash_database)
        stored = _stored_postgres(url)
        crashes = outcome.kills + 1
        report = _assert_durable(outcome, stored, crashes=crashes)
        _exchange_some(outcome)
        _print_figures("PostgreSQL", outcome, report, crashes=crashes)


# -- a worker (re)started while PostgreSQL is down ------------------------------------------------
def _workers(server: Server) -> set[int]:
    """The pids of the serving processes uvicorn's supervisor started and that are alive."""
    pids = set()
    for line in server.stderr().splitlines():
        if '"msg":"Started server process [' in line:
            pid = int(line.split('"msg":"Started server process [', 1)[1].split("]", 1)[0])
            if Path(f"/proc/{pid}").exists():
                pids.add(pid)
    return pids


def _wait(condition: Callable[[], bool], what: str, server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s: {_last_words(server)}"
        time.sleep(0.1)


def test_a_worker_restarted_while_postgres_is_down_serves_once_it_is_back(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """Found by the crash test: uvicorn replaced a worker (slow to answer its health check on a
    loaded machine) while PostgreSQL was recovering; the replacement could not open its pool,
    failed its start-up, and the supervisor then stopped the whole server for good."""
    url = pg_cluster.create_database("imprint_restart")
    with _deployment(tmp_path, url) as deployment:
        deployment.env["IMPRINT_RATE_LIMIT_PER_SECOND"] = "0"
        server = deployment.start(*SERVE_ARGS)
        key = server.api_key()
        _wait(lambda: len(_workers(server)) == 2, "two workers", server)
        before = _workers(server)
        pg_cluster.stop("immediate")
        os.kill(min(before), signal.SIGKILL)
        _wait(lambda: len(_workers(server) - before) == 1, "a replacement worker", server)

        def settled() -> bool:
            log = server.stderr()
            return log.count("Application startup complete") >= 3 or "startup failed" in log

        _wait(settled, "the replacement's start-up to end", server)
        assert "startup failed" not in server.stderr(), _last_words(server)
        assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 503
        pg_cluster.start()
        answers: Counter[int] = Counter()
        with httpx.Client(base_url=server.base_url, auth=(key, ""), timeout=15) as client:
            deadline = time.monotonic() + 30
            while answers[200] < 20:  # on fresh connections, so both workers answer some
                assert time.monotonic() < deadline, f"{answers}: {_last_words(server)}"
                response = client.post(
                    "/v2/customer_sessions", json={}, headers={"connection": "close"}
                )
                answers[response.status_code] += 1
                if response.status_code == 200:
                    _REGISTRY.remember(response.json()["client_secret"])
                else:
                    assert response.status_code == 503, response.text
                    time.sleep(0.1)
        assert server.process.poll() is None, _last_words(server)
        assert len(_workers(server)) == 2, _last_words(server)
