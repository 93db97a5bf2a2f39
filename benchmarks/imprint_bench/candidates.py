"""``benchmarks/run --candidates``: what would change the floor, measured in one run.

1. **HTTP servers**: uvicorn with uvloop, uvicorn with the standard library's loop (``serve``'s
   default), and granian (Rust, ASGI; on its default loop, uvloop), each serving (a) a bare ASGI
   app that answers every request with a fixed 200 JSON body, the floor of the server itself,
   and (b) the service
   (PostgreSQL, create-session for new customers), at 64 connections (wrk) and at 1,000 (the
   overload driver: timeouts and connections never answered show a server that starves some).
2. **msgspec against pydantic** for the hot path's decode and encode, in process: the service's
   create-session body validated by its own pydantic model, against a msgspec Struct of the
   same fields and types (without the length limits, or the e-mail and phone checks msgspec
   cannot express: a lower bound for msgspec), and the response encoded by each.
3. **A bare ASGI hot path against the current one**, in process on SQLite: retrieve-session
   through the whole app (every middleware, as served), through the hot-path handler alone (the
   route's own work: what a bare ASGI path would still do), and the repository call alone.

granian and msgspec are installed into .venv for the run (not dependencies of the service).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from imprint_bench.common import BENCH_DIR, BIN, BenchError, free_port, marked_json, sh
from imprint_bench.proc import run_load

GRANIAN = "granian==2.8.9"
MSGSPEC = "msgspec==0.19.0"
BARE_APP = """
BODY = b'{"id":"00000000-0000-0000-0000-000000000000","status":"ACTIVE"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def ensure(packages: list[str]) -> None:
    sh([str(BIN / "pip"), "install", "--quiet", *packages], timeout=900)


def server_command(server: str, target: str, port: int, *, factory: bool) -> list[str]:
    if server == "granian":
        cmd = [str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", "1", "--no-ws"]  # its own loop choice: uvloop
        cmd += ["--log-level", "warning", *(["--factory"] if factory else []), target]
        return cmd
    loop = "uvloop" if server == "uvicorn+uvloop" else "asyncio"
    cmd = [str(BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--loop", loop, "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return cmd + (["--factory"] if factory else [])


SERVERS = ("uvicorn+uvloop", "uvicorn+asyncio", "granian")


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path, port: int) -> Any:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{cmd[0]} did not start (see {log})")
            time.sleep(0.2)
        time.sleep(1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def wrk(
    args: argparse.Namespace, url: str, key: str, seconds: int, log: Path, pgid: int
) -> dict[str, Any]:
    """The run's own wrk (64 connections, the ``new`` body), with the server's cores."""
    from imprint_bench import cli

    cmd = cli.wrk_command(args, url, "create_session.lua", seconds, ["new"])
    out, cores = run_load(cmd, seconds, log, env={**os.environ, "IMPRINT_API_KEY": key},
                          server_pgid=pgid)  # fmt: skip
    stats = cli.wrk_stats(out, log)
    stats["server_cores"] = cores["server"]
    return stats


def crowd(url: str, key: str, seconds: int, log: Path) -> dict[str, Any]:
    """The overload driver at 1,000 connections."""
    from imprint_bench import cli

    return cli.run_overload_driver(url, key, 1000, seconds, log)


def servers(args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    """Each server, bare and serving the service (a fresh PostgreSQL database for each)."""
    from imprint_bench import cli, pg

    results = []
    with contextlib.ExitStack() as stack:
        backend = cli.Backend(args, "postgresql", stack)
        bare_dir = Path(tempfile.mkdtemp(prefix="bench-bare-"))
        stack.callback(shutil.rmtree, bare_dir, True)
        (bare_dir / "bare.py").write_text(BARE_APP)
        for server in SERVERS:
            row: dict[str, Any] = {"server": server}
            port = free_port()
            env = {**os.environ, "PYTHONPATH": str(bare_dir)}
            run_dir = out / f"candidates-{server}"
            run_dir.mkdir(parents=True, exist_ok=True)
            url = f"http://127.0.0.1:{port}"
            cmd = server_command(server, "bare:app", port, factory=False)
            with running(cmd, env, run_dir / "bare.log", port) as proc:
                row["bare"] = wrk(
                    args, url, "none", args.duration, run_dir / "bare-wrk.txt", proc.pid
                )
                row["bare_1000"] = crowd(url, "none", args.duration, run_dir / "bare-1000.txt")
            # The service: `serve` makes the database, the partner and its key, then stops.
            with contextlib.ExitStack() as inner:
                run = cli.start(args, backend, run_dir / "service", 1, inner)
                run.server.stop()
                env = {
                    **os.environ,
                    "IMPRINT_ENV": "sandbox",
                    "IMPRINT_DATABASE_URL": run.db_url,
                    "IMPRINT_DATA_DIR": str(run.data_dir),
                    "IMPRINT_SECRET_KEY": run.secret_key,
                    "IMPRINT_ACCESS_LOG": "true",
                    "IMPRINT_RATE_LIMIT_PER_SECOND": "0",
                }
                pg.wait_for_connections(args.pg_url, 16)
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                target = "imprint_sessions.app:create_app_from_env"
                cmd = server_command(server, target, port, factory=True)
                with running(cmd, env, run_dir / "service.log", port) as proc:
                    key = run.server.api_key
                    wrk(args, url, key, args.warmup, run_dir / "service-warmup.txt", proc.pid)
                    run.analyze()
                    row["service"] = wrk(
                        args, url, key, args.duration, run_dir / "service-wrk.txt", proc.pid
                    )
                    row["service_1000"] = crowd(
                        url, key, args.duration, run_dir / "service-1000.txt"
                    )
            results.append(row)
            print(
                f"   {server}: bare {row['bare']['rps']:,.0f} req/s, service "
                f"{row['service']['rps']:,.0f} req/s; at 1,000: bare "
                f"{row['bare_1000']['timeouts']} timeouts, service "
                f"{row['service_1000']['timeouts']} timeouts",
                flush=True,
            )
    return results


def codecs() -> dict[str, float]:
    """Microseconds per decode and encode of the create-session body, pydantic and msgspec."""
    code = r"""
import json, sys, timeit
sys.path.insert(0, sys.argv[1])
import msgspec
from common import session_body
from email_validator import validate_email
from imprint_sessions.validation import is_common_email
from imprint_sessions.wire.partner import CreateCustomerSessionRequest as Model

body = json.dumps(session_body("CUST_1", "c1@example.com", "+14155552671")).encode()

class Address(msgspec.Struct):
    street_line1: str | None = None
    street_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None

class History(msgspec.Struct):
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address: Address | None = None
    account_tenure: int | None = None
    ltv_amount: int | None = None
    ltv_currency: str | None = None
    loyalty_tier: str | None = None
    account_created_at: str | None = None
    transaction_count: int | None = None

class Request(msgspec.Struct, forbid_unknown_fields=True):
    partner_customer_id: str | None = None
    transaction_amount: int | None = None
    transaction_currency: str | None = None
    customer_history: History | None = None
    source: str | None = None
    metadata: dict[str, str] | None = None

n = 20000
decoded = Model.model_validate_json(body)
# A new customer each time: more distinct e-mails and phones than the 4,096-entry caches hold,
# read in order, so neither cache ever answers.
fresh = 8192
emails = [f"customer{i}+tag@example{i % 50}.com" for i in range(fresh)]
phones = [f"+1415555{i:04d}" for i in range(fresh)]
bodies = [json.dumps(session_body(f"CUST_{i}", emails[i], phones[i])).encode()
          for i in range(fresh)]
def cycling(values):
    items = iter(values * (n // fresh + 2))
    return lambda: next(items)
m = msgspec.json.decode(body, type=Request)
def us(call):
    return timeit.timeit(call, number=n) / n * 1e6
out = {
  "pydantic_decode_us": us(lambda: Model.model_validate_json(body)),
  "pydantic_decode_new_customer_us": us(
      lambda next_body=cycling(bodies): Model.model_validate_json(next_body())),
  "email_library_us": us(lambda next_email=cycling(emails): validate_email(
      next_email(), check_deliverability=False)),
  "email_fast_path_us": us(lambda next_email=cycling(emails): is_common_email(next_email())),
  "msgspec_decode_us": us(lambda: msgspec.json.decode(body, type=Request)),
  "pydantic_encode_us": us(lambda: decoded.model_dump_json()),
  "msgspec_encode_us": us(lambda: msgspec.json.encode(m)),
}
print("CODECS_JSON " + json.dumps(out))
"""
    proc = sh([str(BIN / "python"), "-c", code, str(BENCH_DIR / "imprint_bench")], timeout=300)
    return marked_json(proc.stdout + proc.stderr, "CODECS_JSON", "the codecs' timing")


def hot_path() -> dict[str, float]:
    """Microseconds of one retrieve-session in process (SQLite), by how much of the app runs."""
    code = r"""
import asyncio, json, sys, tempfile, time
from pathlib import Path
import httpx
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners
from imprint_sessions.hot_paths import _get_session
from imprint_sessions.storage import migrate
from starlette.requests import Request

async def main():
    data = Path(tempfile.mkdtemp())
    url = f"sqlite:///{data / 'imprint.sqlite3'}"
    migrate.upgrade(url)
    settings = Settings(env="sandbox", data_dir=str(data), database_url=url, access_log=True,
                        rate_limit_per_second=0, secret_key="x" * 64)
    app = create_app(settings)
    out = {}
    async with app.router.lifespan_context(app):
        services = app.state.services
        repos = services.database.repositories
        partner = await partners.create_partner(repos, clock=services.clock, name="p",
                                                merchant_keys=[])
        key = (await partners.create_api_key(repos, clock=services.clock, box=services.box,
                                             env="sandbox", partner_id=partner.id)).api_key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            auth = {"authorization": f"Bearer {key}"}
            created = (await client.post("/v2/customer_sessions", json={}, headers=auth)).json()
            path = f"/v2/customer_sessions/{created['id']}"
            scope = {"type": "http", "method": "GET", "path": path, "headers":
                     [(b"authorization", auth["authorization"].encode())], "query_string": b"",
                     "app": app, "client": ("127.0.0.1", 1)}
            sent = []
            async def receive():
                return {"type": "http.request", "body": b""}
            async def send(message):
                sent.append(message)
            n = 3000
            for name, call in (
                ("whole_app_us", lambda: app(dict(scope), receive, send)),
                ("hot_path_handler_us",
                 lambda: _get_session(Request(dict(scope), receive, send), services)),
                ("repository_call_us",
                 lambda: repos.get_customer_session(partner.id, created["id"])),
            ):
                for _ in range(200):
                    await call()
                started = time.perf_counter()
                for _ in range(n):
                    await call()
                out[name] = (time.perf_counter() - started) / n * 1e6
    print("HOTPATH_JSON " + json.dumps(out))

asyncio.run(main())
"""
    proc = sh([str(BIN / "python"), "-c", code], timeout=600)
    return marked_json(proc.stdout + proc.stderr, "HOTPATH_JSON", "the hot path's timing")


def report(rows: list[dict[str, Any]], codec: dict[str, float], hot: dict[str, float]) -> str:
    lines = [
        "HTTP servers (64 connections: wrk; 1,000: the overload driver, 2 s budget):",
        "",
        "| server | bare app req/s | bare, 1,000 conns: timeouts / answered | service req/s "
        "| service p99 ms | service server cores | service, 1,000: admitted/s, timeouts, "
        "answered |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        b1, s1 = r["bare_1000"], r["service_1000"]
        lines.append(
            f"| {r['server']} | {r['bare']['rps']:,.0f} | {b1['timeouts']} / "
            f"{b1['answered_connections']} | {r['service']['rps']:,.0f} "
            f"| {r['service']['p99_us'] / 1000:.0f} | {r['service']['server_cores']:.2f} "
            f"| {s1['admitted_per_s']:,.0f}, {s1['timeouts']}, {s1['answered_connections']} |"
        )
    lines += [
        "",
        "Hot-path codecs, microseconds per call (the create-session body; msgspec with the same "
        "fields and types, without the length limits or the e-mail and phone checks):",
        "",
        "| | pydantic (the service's model) | msgspec Struct |",
        "|---|--:|--:|",
        f"| decode + validate | {codec['pydantic_decode_us']:.1f} "
        f"| {codec['msgspec_decode_us']:.1f} |",
        f"| encode | {codec['pydantic_encode_us']:.1f} | {codec['msgspec_encode_us']:.1f} |",
        f"| decode + validate, a new customer each time (no cache answers) "
        f"| {codec['pydantic_decode_new_customer_us']:.1f} | |",
        "",
        f"A new customer's e-mail check: {codec['email_fast_path_us']:.2f} us on the fast path, "
        f"{codec['email_library_us']:.1f} us through email-validator.",
        "",
        "Retrieve-session in process (SQLite), microseconds per request:",
        "",
        "| through | us |",
        "|---|--:|",
        f"| the whole app (every middleware, as served) | {hot['whole_app_us']:.0f} |",
        f"| the hot-path handler alone | {hot['hot_path_handler_us']:.0f} |",
        f"| the repository call alone | {hot['repository_call_us']:.0f} |",
    ]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace, out: Path) -> int:
    ensure([GRANIAN, MSGSPEC])
    rows = servers(args, out)
    codec = codecs()
    hot = hot_path()
    text = report(rows, codec, hot)
    (out / "candidates.md").write_text(text)
    (out / "candidates.json").write_text(json.dumps({"servers": rows, "codecs": codec,
                                                      "hot_path": hot}, indent=2))  # fmt: skip
    print(f"\n{text}", end="")
    return 0
