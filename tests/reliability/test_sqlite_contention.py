"""SQLite under 8 server processes writing at once: every write commits, none is "locked"."""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import KEY_RE, Deployment, Server, open_deployment

PROCESSES = 8
CLIENTS = 16
ROUNDS = 24  # per client; each round writes through four or five different processes
HOT_CUSTOMERS = ("HOT-0", "HOT-1")  # every client merges metadata into these concurrently


@dataclass
class Ledger:
    """What the clients were told, by kind of write, and how long each took."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> create response
    exchanged: set[str] = field(default_factory=set)  # session ids
    expired: set[str] = field(default_factory=set)  # session ids
    idempotent: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> session id
    # customer id -> metadata key -> the last value its (only) writer was told was merged
    merged: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))


class Writer:
    """One client: a sequence of writes, each to the next of the eight processes."""

    def __init__(self, number: int, servers: list[Server], key: str, ledger: Ledger) -> None:
        self.number = number
        self.servers = servers
        self.ledger = ledger
        self.client = httpx.Client(auth=(key, ""), timeout=60)
        self.turn = number

    def _url(self, path: str) -> str:
        self.turn += 1
        return self.servers[self.turn % len(self.servers)].base_url + path

    def call(self, kind: str, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        url = self._url(path)
        started = time.perf_counter()
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            with self.ledger.lock:
                self.ledger.failures.append(f"{kind} {url}: {exc!r}")
            return None
        elapsed = time.perf_counter() - started
        with self.ledger.lock:
            self.ledger.latencies[kind].append(elapsed)
            if response.status_code != 200:
                self.ledger.failures.append(f"{kind} {url}: {response.status_code} {response.text}")
                return None
        found: dict[str, Any] = response.json()
        return found

    def create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        created = self.call("create", "POST", "/v2/customer_sessions", json=body)
        if created is not None:
            _REGISTRY.remember(created["client_secret"])
            with self.ledger.lock:
                self.ledger.sessions[created["id"]] = created
        return created

    def customer_id(self, pcid: str) -> str:
        found = self.call("read", "GET", "/v2/customers", params={"partner_customer_id": pcid})
        assert found is not None
        assert len(found["data"]) == 1, found
        return str(found["data"][0]["id"])

    def merge(self, customer_id: str, key: str, value: str) -> None:
        body = {"metadata": {key: value}}
        if self.call("update", "POST", f"/v2/customers/{customer_id}", json=body) is not None:
            with self.ledger.lock:
                self.ledger.merged[customer_id][key] = value

    def run(self) -> None:
        ledger, n = self.ledger, self.number
        with self.client:
            own = f"OWN-{n}"
            self.create({"partner_customer_id": own})
            for hot in HOT_CUSTOMERS:
                self.create({"partner_customer_id": hot})
            own_id = self.customer_id(own)
            hot_ids = [self.customer_id(hot) for hot in HOT_CUSTOMERS]
            for round_ in range(ROUNDS):
                pcid = [own, f"NEW-{n}-{round_}", HOT_CUSTOMERS[round_ % 2]][round_ % 3]
                created = self.create({"partner_customer_id": pcid, "metadata": {"r": round_}})
                if created is not None and round_ % 4 != 3:
                    exchanged = self.call(
                        "exchange",
                        "POST",
                        "/v2/client/exchange",
                        json={"client_secret": created["client_secret"]},
                    )
                    if exchanged is not None:
                        _REGISTRY.remember(exchanged["access_token"])
                        with ledger.lock:
                            ledger.exchanged.add(created["id"])
                elif created is not None:
                    path = f"/v2/customer_sessions/{created['id']}/expire"
                    if self.call("expire", "POST", path) is not None:
                        with ledger.lock:
                            ledger.expired.add(created["id"])
                self.merge(own_id, "round", str(round_))
                self.merge(hot_ids[round_ % 2], f"c{n}", str(round_))
                if round_ % 3 == 0:
                    self.idempotent_create(round_)

    def idempotent_create(self, round_: int) -> None:
        """A create with an Idempotency-Key (a multi-statement transaction), then its replay
        through another process."""
        key = str(uuid.uuid4())
        body = {"partner_customer_id": f"IDEM-{self.number}-{round_}"}
        headers = {"Idempotency-Key": key}
        first = self.call("idempotent", "POST", "/v2/customer_sessions", json=body, headers=headers)
        if first is None:
            return
        _REGISTRY.remember(first["client_secret"])
        with self.ledger.lock:
            self.ledger.sessions[first["id"]] = first
            self.ledger.idempotent[key] = first["id"]
        replay = self.call("replay", "POST", "/v2/customer_sessions", json=body, headers=headers)
        if replay is not None and replay != first:
            with self.ledger.lock:
                self.ledger.failures.append(f"replay of {key}: {replay} != {first}")


def _wait_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.stderr()
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not become ready:\n{server.stderr()}")


def _start_eight(deployment: Deployment) -> tuple[list[Server], str]:
    """Eight processes started at once on a fresh data directory: one migrates it and creates
    the sandbox partner, whose key exactly one of them prints; the others find it done."""
    deployment.env["IMPRINT_RATE_LIMIT_PER_SECOND"] = "0"
    servers = [deployment.start("--workers", "1", wait=False) for _ in range(PROCESSES)]
    for server in servers:
        _wait_ready(server)
    keys = [key for server in servers for key in set(KEY_RE.findall(server.stdout()))]
    for key in keys:
        _REGISTRY.remember(key)
    assert len(keys) == 1, f"{len(keys)} sandbox keys printed by {PROCESSES} first starts"
    return servers, keys[0]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.slow
def test_eight_processes_writing_at_once_commit_every_write(tmp_path: Path) -> None:
    with open_deployment("sqlite", tmp_path) as deployment:
        servers, key = _start_eight(deployment)
        ledger = Ledger()
        writers = [Writer(n, servers, key, ledger) for n in range(CLIENTS)]
        threads = [threading.Thread(target=w.run) for w in writers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        seconds = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "a writer is stuck"
        # One process delivers webhooks (a lock file beside the database); the others stand by
        # (and one takes over when it stops, so count before stopping them).
        delivering = sum(s.stderr().count('"webhook worker started"') for s in servers)
        logs = []
        for server in servers:
            server.stop()  # its stderr joins the leak registry
            logs.append(server.stderr())

    assert ledger.failures == [], f"{len(ledger.failures)} writes failed: {ledger.failures[:5]}"
    joined = "\n".join(logs)
    assert "database is locked" not in joined
    errors = [line for line in joined.splitlines() if '"level":"ERROR"' in line]
    assert errors == [], errors[:3]
    assert delivering == 1

    conn = sqlite3.connect(tmp_path / "data" / "imprint.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = {
            row[0]: row[1:]
            for row in conn.execute("SELECT id, consumed_at, revoked_at FROM customer_sessions")
        }
        metadata = dict(conn.execute("SELECT id, metadata FROM customers"))
        (partners,) = conn.execute("SELECT count(*) FROM partners").fetchone()
        (recorded,) = conn.execute("SELECT count(*) FROM idempotency_keys").fetchone()
    finally:
        conn.close()
    assert partners == 1, "concurrent first starts made several sandbox partners"
    missing = ledger.sessions.keys() - stored.keys()
    assert missing == set(), f"{len(missing)} acknowledged sessions missing"
    assert all(stored[s][0] is not None for s in ledger.exchanged), "an exchange did not stick"
    assert all(stored[s][1] is not None for s in ledger.expired), "an expiry did not stick"
    assert recorded >= len(ledger.idempotent) > 0
    for customer_id, expected in ledger.merged.items():
        kept = json.loads(metadata[customer_id] or "{}")
        assert {k: kept.get(k) for k in expected} == expected, f"lost merges on {customer_id}"

    # A replay is a write transaction too: its claim takes the write lock (BEGIN IMMEDIATE).
    writes = {kind: len(v) for kind, v in ledger.latencies.items() if kind != "read"}
    every = [t for kind, v in ledger.latencies.items() if kind != "read" for t in v]
    figures = ", ".join(
        f"{kind} {len(v)} (p50 {statistics.median(v) * 1000:.0f} ms,"
        f" p99 {_percentile(v, 0.99) * 1000:.0f} ms, max {max(v) * 1000:.0f} ms)"
        for kind, v in sorted(ledger.latencies.items())
    )
    print(
        f"\n[sqlite contention] {PROCESSES} processes, {CLIENTS} clients, {sum(writes.values())}"
        f" writes in {seconds:.1f} s ({sum(writes.values()) / seconds:.0f}/s), all 200;"
        f" every write p50 {statistics.median(every) * 1000:.0f} ms,"
        f" p99 {_percentile(every, 0.99) * 1000:.0f} ms, max {max(every) * 1000:.0f} ms; {figures}"
    )
