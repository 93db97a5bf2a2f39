#!/usr/bin/env python3
"""Soak: ``imprint-sessions serve`` under a steady create/exchange mix, watched for growth.

Starts the server as deployed (a real process, sandbox, access log on, ``--workers N``) on a fresh
PostgreSQL database (created on the server at ``--database-url``, dropped at the end) or in a
fresh SQLite data directory, and drives a mix of partner and client calls from ``--concurrency``
clients (asyncio + httpx, one keep-alive connection each): create-session for new and for
returning ``partner_customer_id``s, retrieve, exchange of the returned client secrets (and of
secrets already used: 401 expected), and the client API's session read with the credential an
exchange returned. Every ``--interval`` seconds it samples each worker's RSS (``/proc``), the
server's database connections (``pg_stat_activity`` client backends of its database; on SQLite
the server processes' open descriptors of the database file: one per connection), requests by
status class, and the interval's latency p50/p99. Prints a table, then a JSON summary.

Exit status 1 when the run was not clean and flat:
  - any 5xx, transport error (refused, reset, timeout), or a status the mix did not expect;
  - a worker died or was replaced, or the server exited;
  - a worker's RSS grew more than ``--max-rss-growth`` % from the first sample at or after the
    warm-up to the last sample, or exceeded ``--max-rss-mb``;
  - connections not flat: after the warm-up, a sample above ``workers x pool size`` (the most
    the pools may hold), or max - min above one pool's size (pools grow and shrink with the
    load, by at most a pool; a leak climbs without bound).

    .venv/bin/python benchmarks/soak.py --backend postgresql --duration 600 --workers 2
    .venv/bin/python benchmarks/soak.py --backend sqlite --duration 60 --workers 1

Needs the project's ``.venv`` (psycopg from the test extra, on PostgreSQL). Results go to
``--out`` (default ``benchmarks/results/soak-TIMESTAMP/``): ``summary.json`` and the server's log
``server.err``. The banner (``server.out``, which shows the sandbox API key) is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY_RE = re.compile(r"isk_test_[A-Za-z0-9_-]{43}")
STARTED_RE = re.compile(r'"msg":"Started server process \[(\d+)\]"')
# What uvicorn's supervisor logs when it loses a worker (``serve`` logs the supervisor too).
SUPERVISOR_RE = re.compile(r'"msg":"((?:Child process|New child process) \[\d+\][^"]*)"')
SQLITE_POOL_SIZE = 4  # imprint_sessions.storage.db.SQLITE_POOL_SIZE: connections per process
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# The mix: weights per operation. An operation that needs state the run has not produced yet
# (an unused secret, a session, a credential) falls back to a create.
MIX: dict[str, int] = {
    "create_new": 20,  # POST /v2/customer_sessions, a customer never seen before
    "create_existing": 20,  # POST /v2/customer_sessions, one of --existing-customers
    "retrieve": 20,  # GET /v2/customer_sessions/{id}
    "exchange": 25,  # POST /v2/client/exchange, an unused secret: 200
    "client_session": 10,  # GET /v2/client/session with the credential of an exchange
    "exchange_used": 5,  # POST /v2/client/exchange, a secret already exchanged: 401
}


class SoakError(Exception):
    """The soak could not run (the server did not start, a database could not be made)."""


def _binary() -> Path:
    here = Path(sys.executable).parent / "imprint-sessions"
    return here if here.exists() else ROOT / ".venv" / "bin" / "imprint-sessions"


# -- options --------------------------------------------------------------------------------------
@dataclass
class SoakOptions:
    backend: str = "postgresql"
    duration: float = 600.0  # seconds of load, the warm-up included
    warmup: float = 10.0  # seconds before the baseline sample
    interval: float = 5.0  # seconds between samples
    workers: int = 2
    concurrency: int = 16
    # Share of requests sent with "Connection: close": clients reconnect now and then (as
    # behind a load balancer), so connections, and the load, spread over every worker.
    reconnect: float = 0.02
    rate: float = 0.0  # requests per second across all clients; 0: as fast as they go
    pool_size: int = 16  # IMPRINT_DB_POOL_SIZE (PostgreSQL)
    database_url: str = field(
        default_factory=lambda: os.environ.get("IMPRINT_TEST_DATABASE_URL", DEFAULT_PG_URL)
    )
    database_prefix: str = "imprint_soak_"
    existing_customers: int = 100
    max_rss_growth: float = 10.0  # percent, first sample after the warm-up to the last
    max_rss_mb: float = 150.0  # per worker
    request_timeout: float = 30.0
    out: Path | None = None
    seed: int | None = None


# -- /proc ----------------------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, process group, CPU ticks used) of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12])


def machine_busy_ticks() -> int:
    """Non-idle ticks of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4]  # less idle and iowait


def cpu_seconds(pid: int) -> float | None:
    stat = _stat(pid)
    return stat[2] / TICK if stat else None


def group_pids(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat and stat[1] == pgid:
                found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def open_paths(pid: int) -> list[str]:
    paths = []
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                paths.append(os.readlink(fd))
    return paths


# -- PostgreSQL -----------------------------------------------------------------------------------
def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise SoakError("psycopg is needed on PostgreSQL: pip install -e '.[test]'") from None
    return psycopg


def create_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """A fresh database on the server of ``admin_url``: (its name, its URL)."""
    name = f"{prefix}{secrets.token_hex(4)}"
    with _psycopg().connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{admin_url.rpartition('/')[0]}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with _psycopg().connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the server -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``imprint-sessions serve`` in its own process group; stopped (group and all) by stop()."""

    def __init__(self, env: dict[str, str], workers: int, run_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers_wanted = workers
        self.stdout_path = run_dir / "server.out"
        self.stderr_path = run_dir / "server.err"
        cmd = [str(_binary()), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--workers", str(workers)]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self.pgid = self.proc.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's spawned workers, or the process itself
        when it runs one (uvicorn then serves in the main process)."""
        if self.workers_wanted == 1:
            return [self.proc.pid] if self.proc.poll() is None else []
        return [p for p in group_pids(self.pgid) if "spawn_main" in cmdline(p)]

    def started_workers(self) -> list[int]:
        """Workers alive that have logged their start ("Started server process [pid]"). A
        worker only spawned may still be importing, and uvicorn's supervisor replaces one that
        does not answer its health check within 5 s (which a starved machine can make happen)."""
        started = {int(pid) for pid in STARTED_RE.findall(self.stderr_path.read_text())}
        return [pid for pid in self.worker_pids() if pid in started]

    def wait_ready(self, timeout: float = 90) -> str:
        """Wait for the banner's API key, every worker started, and /readyz; return the key."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.stderr_path.read_text()[-3000:]
                raise SoakError(f"server exited with {self.proc.returncode}:\n{tail}")
            found = KEY_RE.search(self.stdout_path.read_text())
            if found and len(self.started_workers()) == self.workers_wanted:
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as resp,
                ):
                    if resp.status == 200:
                        return found.group(0)
            time.sleep(0.2)
        raise SoakError(f"server not ready (or no API key printed) within {timeout:.0f} s")

    def stop(self) -> int | None:
        """SIGTERM the group (graceful: in-flight requests finish), SIGKILL after 20 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for _ in range(50):  # workers may outlive their parent by a moment
            if not group_pids(self.pgid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        return self.proc.returncode


# -- the load -------------------------------------------------------------------------------------
_BODY = (
    '{"partner_customer_id": "%s", "transaction_amount": 34000, "transaction_currency": "USD", '
    '"customer_history": {"email": "%s", "phone": "%s", "first_name": "John", '
    '"last_name": "Doe", "preferred_language": "en", "address": {"street_line1": "123 Main St", '
    '"street_line2": "Apt 4B", "city": "San Francisco", "state": "CA", "postal_code": "94105", '
    '"country": "USA"}, "account_tenure": 13, "ltv_amount": 34000, "ltv_currency": "USD", '
    '"loyalty_tier": "GOLD", "account_created_at": "2025-02-13T19:08:07.000Z", '
    '"transaction_count": 100}, "source": "web_checkout", "metadata": {"store_number": "123", '
    '"channel": "web", "order_reference": "ORD-2025-000123456", "cart_id": "cart_7f3a9c2e41b8", '
    '"campaign": "spring_sale_2025"}}'
)


@dataclass
class Interval:
    """What the clients saw between two samples."""

    by_class: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Load:
    """Closed-loop clients over one httpx client; the state the mix draws from, bounded."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        options: SoakOptions,
        remember: Callable[[str], None],
    ) -> None:
        self.client = client
        self.auth = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.options = options
        self.remember = remember
        self.run_id = secrets.token_hex(3)
        self.rng = random.Random(options.seed)
        self.unused_secrets: deque[str] = deque(maxlen=4096)
        self.used_secrets: deque[str] = deque(maxlen=1024)
        self.session_ids: deque[str] = deque(maxlen=4096)
        self.tokens: deque[str] = deque(maxlen=1024)
        self.new_count = 0
        self.interval = Interval()
        self.by_operation: Counter[str] = Counter()  # "op status"
        self.totals: Counter[str] = Counter()  # status classes, "transport_error", "unexpected"
        self.unexpected: list[str] = []  # the first few, for the report (no bodies of 2xx)
        self.stop = asyncio.Event()
        self._next_slot = 0.0

    async def _pace(self) -> None:
        if self.options.rate <= 0:
            return
        now = time.monotonic()
        slot = max(self._next_slot, now)
        self._next_slot = slot + 1 / self.options.rate
        await asyncio.sleep(slot - now)

    def _create_body(self, new: bool) -> str:
        if new:
            self.new_count += 1
            n = self.new_count
            pcid, email = f"SOAK_{self.run_id}_{n}", f"c.{self.run_id}.{n}@example.com"
            phone = f"+14155{self.rng.randint(0, 999_999):06d}"
        else:
            k = self.rng.randint(1, self.options.existing_customers)
            pcid, email = f"SOAK_{self.run_id}_CUST_{k}", f"customer{k}@example.com"
            phone = f"+14155{k:06d}"
        return _BODY % (pcid, email, phone)

    async def _request(
        self, operation: str, method: str, url: str, expected: int, **kw: Any
    ) -> httpx.Response | None:
        if self.rng.random() < self.options.reconnect:
            kw["headers"] = {**kw.get("headers", {}), "Connection": "close"}
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.totals["transport_error"] += 1
            self.interval.by_class["err"] += 1
            self.by_operation[f"{operation} {type(exc).__name__}"] += 1
            if len(self.unexpected) < 20:
                self.unexpected.append(f"{operation}: {type(exc).__name__}")
            return None
        elapsed_ms = (time.perf_counter() - started) * 1000
        klass = status_class(response.status_code)
        self.interval.by_class[klass] += 1
        self.interval.latencies_ms.append(elapsed_ms)
        self.totals[klass] += 1
        self.by_operation[f"{operation} {response.status_code}"] += 1
        if response.status_code != expected:
            self.totals["unexpected"] += 1
            if len(self.unexpected) < 20:
                body = "" if response.is_success else f" {response.text[:300]}"
                self.unexpected.append(f"{operation}: {response.status_code}{body}")
            return None
        return response

    async def create(self, new: bool) -> None:
        operation = "create_new" if new else "create_existing"
        response = await self._request(
            operation,
            "POST",
            "/v2/customer_sessions",
            200,
            content=self._create_body(new),
            headers=self.auth,
        )
        if response is not None:
            body = response.json()
            self.remember(body["client_secret"])
            self.unused_secrets.append(body["client_secret"])
            self.session_ids.append(body["id"])

    async def retrieve(self) -> None:
        session_id = self.rng.choice(self.session_ids)
        await self._request(
            "retrieve", "GET", f"/v2/customer_sessions/{session_id}", 200, headers=self.auth
        )

    async def exchange(self, *, used: bool) -> None:
        # An unused one newest first: the secret of a session just created, as a browser would.
        secret = self.rng.choice(self.used_secrets) if used else self.unused_secrets.pop()
        response = await self._request(
            "exchange_used" if used else "exchange",
            "POST",
            "/v2/client/exchange",
            401 if used else 200,
            json={"client_secret": secret},
        )
        if not used:
            self.used_secrets.append(secret)
        if response is not None and not used:
            token = response.json()["access_token"]
            self.remember(token)
            self.tokens.append(token)

    async def client_session(self) -> None:
        token = self.rng.choice(self.tokens)
        await self._request(
            "client_session",
            "GET",
            "/v2/client/session",
            200,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def one(self) -> None:
        operation = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if operation == "exchange_used" and not self.used_secrets:
            operation = "exchange"
        if operation == "client_session" and not self.tokens:
            operation = "exchange"
        if operation == "exchange" and not self.unused_secrets:
            operation = "create_new"
        if operation == "retrieve" and not self.session_ids:
            operation = "create_existing"
        if operation in ("create_new", "create_existing"):
            await self.create(new=operation == "create_new")
        elif operation == "retrieve":
            await self.retrieve()
        elif operation == "client_session":
            await self.client_session()
        else:
            await self.exchange(used=operation == "exchange_used")

    async def client_loop(self) -> None:
        while not self.stop.is_set():
            await self._pace()
            if self.stop.is_set():
                return
            await self.one()

    def take_interval(self) -> Interval:
        taken, self.interval = self.interval, Interval()
        return taken


# -- sampling -------------------------------------------------------------------------------------
class Probe:
    """Reads what the server holds: worker RSS and database connections."""

    def __init__(self, server: Server, backend: str, db_url: str, db_name: str) -> None:
        self.server = server
        self.backend = backend
        self.db_name = db_name
        self.sqlite_file = db_url.split(":///", 1)[1] if backend == "sqlite" else ""
        self.pg: Any = _psycopg().connect(db_url, autocommit=True) if backend != "sqlite" else None
        self.cpu: dict[int, float] = {}
        self.clocks = (time.monotonic(), machine_busy_ticks(), time.process_time())

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()

    def connections(self) -> tuple[int, dict[str, int]]:
        """(connections, detail). PostgreSQL: client backends connected to the database (ours
        excluded); SQLite: the server processes' descriptors of the database file (each
        sqlite3 connection holds one; the -wal and -shm files are reported as detail)."""
        if self.pg is not None:
            rows = self.pg.execute(
                "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND backend_type = 'client backend' "
                "AND pid <> pg_backend_pid() GROUP BY 1",
                (self.db_name,),
            ).fetchall()
            detail = {str(state): int(n) for state, n in rows}
            return sum(detail.values()), detail
        counts: Counter[str] = Counter()
        for pid in group_pids(self.server.pgid):
            for path in open_paths(pid):
                for suffix in ("", "-wal", "-shm"):
                    if path == self.sqlite_file + suffix:
                        counts[f"db{suffix}"] += 1
        return counts["db"], dict(counts)

    def resources(self) -> dict[str, Any]:
        workers = self.server.worker_pids()
        connections, detail = self.connections()
        supervisor = None
        if self.server.workers_wanted > 1:
            supervisor = _round(rss_mb(self.server.proc.pid))
        cpu = {}
        for pid in workers:
            now = cpu_seconds(pid)
            if now is not None:
                cpu[str(pid)] = round(now - self.cpu.get(pid, now), 2)
                self.cpu[pid] = now
        clocks = (time.monotonic(), machine_busy_ticks(), time.process_time())
        wall = max(1e-6, clocks[0] - self.clocks[0])
        machine = (clocks[1] - self.clocks[1]) / TICK / wall
        driver = (clocks[2] - self.clocks[2]) / wall
        self.clocks = clocks
        return {
            # Cores used since the previous sample: the whole machine (2 cores here; others'
            # work included) and this driver process (the load generator).
            "machine_cores": round(machine, 2),
            "driver_cores": round(driver, 2),
            "worker_rss_mb": {str(pid): _round(rss_mb(pid)) for pid in workers},
            "worker_cpu_s": cpu,  # CPU seconds since the previous sample
            "supervisor_rss_mb": supervisor,
            "connections": connections,
            "connection_detail": detail,
            "server_alive": self.server.proc.poll() is None,
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


async def drive(
    server: Server,
    api_key: str,
    probe: Probe,
    options: SoakOptions,
    remember: Callable[[str], None],
    emit: Callable[[str], None],
    handle_signals: bool = False,
) -> tuple[list[dict[str, Any]], Load]:
    """Run the load for ``options.duration`` seconds, sampling every ``options.interval``.
    ``handle_signals``: SIGTERM and SIGINT cancel the run (the caller's clean-ups then run)."""
    if handle_signals:
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    # Idle connections are dropped after 2 s, before the server's keep-alive timeout (uvicorn's
    # 5 s, httpx's default expiry too): with equal timeouts a request sent on a connection the
    # server is closing at that instant fails in transport (the keep-alive race; the request
    # never reaches the application). Load balancers are set up the same way.
    limits = httpx.Limits(
        max_connections=options.concurrency,
        max_keepalive_connections=options.concurrency,
        keepalive_expiry=2.0,
    )
    async with httpx.AsyncClient(
        base_url=server.base_url, limits=limits, timeout=options.request_timeout
    ) as client:
        load = Load(client, api_key, options, remember)
        samples: list[dict[str, Any]] = []
        idle = await asyncio.to_thread(probe.resources)
        samples.append({"t": 0.0, "phase": "idle", **idle, "requests": 0, "by_class": {}})
        emit(table_header(options))
        emit(table_row(samples[-1], options))
        started = time.monotonic()
        tasks = [asyncio.create_task(load.client_loop()) for _ in range(options.concurrency)]
        try:
            k = 1
            while True:
                due = started + k * options.interval
                last = due - started >= options.duration
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if last:
                    load.stop.set()
                    await asyncio.gather(*tasks)
                interval = load.take_interval()
                t = time.monotonic() - started
                resources = await asyncio.to_thread(probe.resources)
                count = sum(interval.by_class.values())
                samples.append(
                    {
                        "t": round(t, 1),
                        # The phase of the interval the sample closes.
                        "phase": "warm-up" if k * options.interval <= options.warmup else "soak",
                        **resources,
                        "requests": count,
                        "by_class": dict(interval.by_class),
                        "rps": round(count / options.interval, 1),
                        "p50_ms": _round(percentile(interval.latencies_ms, 50)),
                        "p99_ms": _round(percentile(interval.latencies_ms, 99)),
                    }
                )
                emit(table_row(samples[-1], options))
                if last or not resources["server_alive"]:
                    break
                k += 1
        finally:
            load.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return samples, load


def table_header(options: SoakOptions) -> str:
    rss = " ".join(f"{f'w{i + 1}':>6}" for i in range(options.workers))
    return (
        f"{'t s':>6} {'phase':<7} {rss} {'conns':>5} {'reqs':>6} {'2xx':>6} {'4xx':>5} "
        f"{'5xx':>4} {'err':>4} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'srv':>5} {'drv':>5} "
        f"{'mach':>5}   (RSS MB per worker; cores used by the workers, the driver, the machine)"
    )


def table_row(sample: dict[str, Any], options: SoakOptions) -> str:
    rss = list(sample["worker_rss_mb"].values()) + [None] * options.workers
    rss_text = " ".join(
        f"{r:6.1f}" if r is not None else f"{'-':>6}" for r in rss[: options.workers]
    )
    c = sample["by_class"]

    def ms(key: str) -> str:
        return f"{sample[key]:7.1f}" if sample.get(key) is not None else f"{'-':>7}"

    return (
        f"{sample['t']:6.1f} {sample['phase']:<7} {rss_text} {sample['connections']:5d} "
        f"{sample['requests']:6d} {c.get('2xx', 0):6d} {c.get('4xx', 0):5d} {c.get('5xx', 0):4d} "
        f"{c.get('err', 0):4d} {sample.get('rps', 0):6.1f} {ms('p50_ms')} {ms('p99_ms')} "
        f"{sum(sample['worker_cpu_s'].values()) / options.interval:5.2f} "
        f"{sample['driver_cores']:5.2f} {sample['machine_cores']:5.2f}"
    )


# -- judging --------------------------------------------------------------------------------------
def summarise(
    samples: list[dict[str, Any]], load: Load, options: SoakOptions, worker_pids: list[int]
) -> dict[str, Any]:
    """The figures and the verdict (``failures`` empty when the run was clean and flat)."""
    failures: list[str] = []
    # Sample k was taken k intervals into the load (sample 0: idle, before it). The baseline is
    # the first taken at or after the warm-up; "soak" samples close intervals wholly after it.
    soak = [s for s in samples if s["phase"] == "soak"]
    judged = [s for k, s in enumerate(samples) if k and k * options.interval >= options.warmup]
    if not soak:
        failures.append("no sample after the warm-up: --duration must exceed --warmup")
    baseline, last = (judged[0], judged[-1]) if judged else (samples[-1], samples[-1])

    # Requests.
    totals = load.totals
    after_warmup = sum(s["requests"] for s in soak)
    if totals["5xx"]:
        failures.append(f"{totals['5xx']} responses were 5xx")
    if totals["transport_error"]:
        failures.append(f"{totals['transport_error']} requests failed in transport")
    if totals["unexpected"] - totals["5xx"] > 0:
        failures.append(f"{totals['unexpected'] - totals['5xx']} non-5xx unexpected statuses")
    if after_warmup == 0:
        failures.append("no request completed after the warm-up")

    # Workers and their RSS.
    rss: dict[str, dict[str, float | None]] = {}
    for pid in map(str, worker_pids):
        series = [s["worker_rss_mb"].get(pid) for s in samples]
        first, final = baseline["worker_rss_mb"].get(pid), last["worker_rss_mb"].get(pid)
        known = [v for v in series if v is not None]
        growth = (final - first) / first * 100 if first and final else None
        rss[pid] = {
            "idle_mb": _round(samples[0]["worker_rss_mb"].get(pid)),
            "first_after_warmup_mb": _round(first),
            "last_mb": _round(final),
            "max_mb": _round(max(known) if known else None),
            "growth_pct": _round(growth, 2),
        }
        if growth is not None and growth > options.max_rss_growth:
            failures.append(
                f"worker {pid}: RSS grew {growth:.1f}% ({first:.1f} -> {final:.1f} MB), "
                f"over {options.max_rss_growth}%"
            )
        if known and max(known) > options.max_rss_mb:
            failures.append(f"worker {pid}: RSS reached {max(known):.1f} MB > {options.max_rss_mb}")
    # Every worker carried load, in the warm-up and after it: a worker that idled until after
    # the baseline would warm up inside the measurement (and one that never served, hide a leak).
    for phase, phase_samples in (("warm-up", [s for s in samples if s["phase"] == "warm-up"]),
                                 ("soak", soak)):  # fmt: skip
        cpu = {pid: sum(s["worker_cpu_s"].get(pid, 0.0) for s in phase_samples) for pid in rss}
        total = sum(cpu.values())
        for pid, used in cpu.items():
            share = used / total if total else 0.0
            rss[pid][f"cpu_s_{phase.replace('-', '')}"] = round(used, 2)
            if options.workers > 1 and share < 1 / (4 * options.workers):
                failures.append(
                    f"worker {pid} did {share:.0%} of the workers' CPU work in the {phase} "
                    f"(under a quarter of its fair share): the load did not reach it"
                )
    for s in samples[1:]:
        if sorted(map(int, s["worker_rss_mb"])) != worker_pids or not s["server_alive"]:
            failures.append(
                f"at t={s['t']} s the workers were {list(s['worker_rss_mb'])}, "
                f"not {worker_pids} (alive: {s['server_alive']})"
            )
            break

    # Database connections.
    per_process = options.pool_size if options.backend == "postgresql" else SQLITE_POOL_SIZE
    cap = per_process * options.workers
    counts = [s["connections"] for s in judged] or [0]
    spread = max(counts) - min(counts)
    if max(counts) > cap:
        failures.append(f"database connections reached {max(counts)} > {cap} (pool size x workers)")
    if spread > per_process:
        failures.append(f"database connections moved by {spread} > {per_process} (one pool)")

    all_latencies = [s["p99_ms"] for s in soak if s.get("p99_ms") is not None]
    supervisor = [s["supervisor_rss_mb"] for s in samples if s["supervisor_rss_mb"] is not None]
    return {
        "backend": options.backend,
        "options": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(options).items()
            if k != "database_url"
        },
        "warmup_note": "baseline = the first sample at or after --warmup seconds of load; "
        "after_warmup, latency and cpu_s_soak: the intervals after it",
        "baseline_t": baseline["t"],
        "requests": {
            "total": sum(totals[k] for k in ("2xx", "3xx", "4xx", "5xx", "transport_error")),
            "after_warmup": after_warmup,
            "by_status_class": {k: totals[k] for k in ("2xx", "3xx", "4xx", "5xx") if totals[k]},
            "transport_errors": totals["transport_error"],
            "unexpected": totals["unexpected"],
            "unexpected_examples": load.unexpected,
            "by_operation": dict(sorted(load.by_operation.items())),
            "new_customers": load.new_count,
        },
        "rss": {
            "per_worker": rss,
            "max_worker_mb": _round(max((r["max_mb"] or 0) for r in rss.values()) if rss else None),
            "max_growth_pct": _round(
                max((r["growth_pct"] or 0) for r in rss.values()) if rss else None, 2
            ),
            "supervisor_first_mb": _round(supervisor[0] if supervisor else None),
            "supervisor_last_mb": _round(supervisor[-1] if supervisor else None),
        },
        "connections": {
            "min_after_warmup": min(counts),
            "max_after_warmup": max(counts),
            "spread_after_warmup": spread,
            "cap": cap,
            "max_spread": per_process,
            "idle": samples[0]["connections"],
        },
        "latency_ms": {
            "p50_of_interval_p50s": percentile([s["p50_ms"] for s in soak if s.get("p50_ms")], 50),
            "max_interval_p99": max(all_latencies) if all_latencies else None,
        },
        "samples": samples,
        "failures": failures,
        "passed": not failures,
    }


# -- one run --------------------------------------------------------------------------------------
def source_state() -> str:
    """The commit, and whether src/ differs from it (figures belong to the code they measured)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--", "src")
    return f"{head or 'unknown'}{' + uncommitted changes in src/' if dirty else ''}"


def run_soak(
    options: SoakOptions,
    *,
    remember: Callable[[str], None] | None = None,
    emit: Callable[[str], None] | None = None,
    handle_signals: bool = False,
) -> dict[str, Any]:
    """One soak; returns the summary. ``remember`` sees every credential issued (the API key,
    each client secret and client credential): a test's leak registry; nothing else keeps them.
    Raises SoakError if the server cannot be started; the server's log is in ``out/server.err``
    either way."""
    if options.backend not in ("postgresql", "sqlite"):
        raise SoakError("backend: postgresql or sqlite")
    keep = remember or (lambda _credential: None)
    emit = emit or (lambda line: print(line, flush=True))
    out = options.out or ROOT / "benchmarks" / "results" / time.strftime("soak-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        data_dir = Path(tempfile.mkdtemp(prefix="imprint-soak-"))
        stack.callback(shutil.rmtree, data_dir, True)
        db_name = ""
        if options.backend == "postgresql":
            db_name, db_url = create_database(options.database_url, options.database_prefix)
            stack.callback(drop_database, options.database_url, db_name)
        else:
            db_url = f"sqlite:///{data_dir / 'imprint.sqlite3'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
        env.update(
            IMPRINT_ENV="sandbox",
            IMPRINT_DATABASE_URL=db_url,
            IMPRINT_DATA_DIR=str(data_dir),
            IMPRINT_SECRET_KEY=secrets.token_urlsafe(48),
            IMPRINT_ACCESS_LOG="true",  # as deployed
            IMPRINT_LOG_LEVEL="INFO",
            IMPRINT_DB_POOL_SIZE=str(options.pool_size),
            # One API key sends everything: the per-key limit would answer 429s.
            IMPRINT_RATE_LIMIT_PER_SECOND="0",
        )
        if options.backend == "postgresql":
            upgraded = subprocess.run(
                [str(_binary()), "db", "upgrade"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if upgraded.returncode:
                raise SoakError(f"db upgrade failed:\n{upgraded.stderr[-3000:]}")
        server = Server(env, options.workers, out)
        stack.callback(server.stdout_path.unlink, missing_ok=True)  # the banner shows the key
        exit_code: list[int | None] = []
        stack.callback(lambda: exit_code.append(server.stop()))
        api_key = server.wait_ready()
        keep(api_key)
        worker_pids = server.started_workers()
        probe = Probe(server, options.backend, db_url, db_name)
        stack.callback(probe.close)
        emit(
            f"soak: {options.backend}, {options.workers} worker(s) {worker_pids}, "
            f"{options.concurrency} clients"
            + (f" at {options.rate:g} req/s" if options.rate > 0 else "")
            + f", {options.duration:g} s ({options.warmup:g} s warm-up), "
            f"sample every {options.interval:g} s; source {source_state()}; results in {out}"
        )
        samples, load = asyncio.run(
            drive(server, api_key, probe, options, keep, emit, handle_signals)
        )
        summary = summarise(samples, load, options, worker_pids)
        # Read after the stop, so the supervisor's last words are in.
        stack.close()
        events = SUPERVISOR_RE.findall(server.stderr_path.read_text())
        summary["supervisor_events"] = events
        if events:
            summary["failures"].append(f"uvicorn's supervisor replaced workers: {events[:5]}")
            summary["passed"] = False
    summary["server_exit_code"] = exit_code[0] if exit_code else None
    summary["source"] = source_state()
    summary["server_log"] = str(out / "server.err")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as JSON, one line per sample."""
    head = json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=2)
    samples = ",\n    ".join(json.dumps(s) for s in summary["samples"])
    return f'{head[:-2]},\n  "samples": [\n    {samples}\n  ]\n}}'


def parse_args(argv: list[str] | None = None) -> SoakOptions:
    d = SoakOptions()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=["postgresql", "sqlite"], default=d.backend)
    p.add_argument("--duration", type=float, default=d.duration, help="seconds of load (600)")
    p.add_argument(
        "--warmup", type=float, default=d.warmup, help="seconds before the baseline (10)"
    )
    p.add_argument("--interval", type=float, default=d.interval, help="seconds per sample (5)")
    p.add_argument("--workers", type=int, default=d.workers, help="server workers (2)")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="clients (16)")
    p.add_argument("--rate", type=float, default=d.rate, help="cap, req/s in all (0: none)")
    p.add_argument("--pool-size", type=int, default=d.pool_size, help="IMPRINT_DB_POOL_SIZE (16)")
    p.add_argument(
        "--database-url",
        default=d.database_url,
        help="PostgreSQL server to make the soak's database on (IMPRINT_TEST_DATABASE_URL)",
    )
    p.add_argument("--max-rss-growth", type=float, default=d.max_rss_growth, help="% (10)")
    p.add_argument("--max-rss-mb", type=float, default=d.max_rss_mb, help="per worker (150)")
    p.add_argument("--out", type=Path, help="results dir (benchmarks/results/soak-TIMESTAMP)")
    p.add_argument("--seed", type=int, help="seed of the mix's random choices")
    a = p.parse_args(argv)
    if a.workers < 1 or a.concurrency < 1 or a.interval <= 0 or a.duration <= a.warmup:
        p.error("need --workers >= 1, --concurrency >= 1, --interval > 0, --duration > --warmup")
    return SoakOptions(
        backend=a.backend,
        duration=a.duration,
        warmup=a.warmup,
        interval=a.interval,
        workers=a.workers,
        concurrency=a.concurrency,
        rate=a.rate,
        pool_size=a.pool_size,
        database_url=a.database_url,
        max_rss_growth=a.max_rss_growth,
        max_rss_mb=a.max_rss_mb,
        out=a.out,
        seed=a.seed,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups
    try:
        summary = run_soak(options, handle_signals=True)
    except SoakError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    except asyncio.CancelledError:
        print("interrupted: server stopped, database dropped", file=sys.stderr)
        return 130
    print(summary_json(summary))
    if summary["failures"]:
        print("FAILED:\n  " + "\n  ".join(summary["failures"]), file=sys.stderr)
        return 1
    print("PASSED: no 5xx, RSS and database connections flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
