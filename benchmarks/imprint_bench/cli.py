"""``benchmarks/run``: every scenario, the service against its bars, one report.

See benchmarks/README.md for what a run does and how to read it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imprint_bench import pg, pools, prism
from imprint_bench.budget import (
    budget,
    categorise,
    perf_available,
    pool_checkouts,
    read_syscalls,
    start_syscall_counter,
)
from imprint_bench.budget import table as budget_table
from imprint_bench.common import BENCH_DIR, BIN, ROOT, BenchError, marked_json, sh
from imprint_bench.proc import group_cpu, run_load, wait_for_quiet
from imprint_bench.server import Server

SCENARIOS = ("new", "existing", "mix", "retrieve", "exchange", "client_path", "overload")
CREATE = ("new", "existing", "mix")
LOOP_SCENARIOS = (*CREATE, "retrieve")  # the sqlite3 loop's (not exchange: see the README)
RETRIEVE_SALT = "bench-retrieve-"
# --quick: PostgreSQL, the four scenarios with a pgbench bar, short runs, no waiting.
QUICK = {
    "backends": "postgresql",
    "scenarios": "new,existing,retrieve,exchange",
    "duration": 5,
    "warmup": 2,
    "quiet_wait": 0.0,
    "retries": 0,
    "prism": False,
    "scale_workers": 0,
    "retrieve_pool": 5000,
}
FULL = {
    "backends": "postgresql,sqlite",
    "scenarios": "new,existing,retrieve,exchange,client_path,overload",
    "duration": 20,
    "warmup": 5,
    "quiet_wait": 60.0,
    "retries": 2,
    "prism": True,
    "scale_workers": 2,
    "retrieve_pool": 20000,
}


# -- tools -----------------------------------------------------------------------------------------
def ensure_tools(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        print("installing wrk ...", flush=True)
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False).returncode:
            sh(["apt-get", "update", "-qq"], timeout=600)
            sh(["apt-get", "install", "-y", "-qq", "wrk"], timeout=600)
    if "postgresql" in args.backends:
        for tool in ("psql", "pgbench"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} not found (apt-get install postgresql-client)")
    if (args.profile or args.budget) and not (BIN / "py-spy").exists():
        sh([str(BIN / "pip"), "install", "--quiet", "py-spy"], timeout=600)
    if args.budget:
        why = perf_available()
        if why:
            raise BenchError(f"--budget: {why}")
    if args.prism:
        args.prism_unavailable = prism.unavailable()
        if args.prism_unavailable:
            print(f"note: {args.prism_unavailable}", flush=True)


def module_command(module: str, *options: str) -> list[str]:
    return [str(BIN / "python"), "-m", f"imprint_bench.{module}", *options]


def module_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


# -- profile ---------------------------------------------------------------------------------------
def summarise_profile(raw: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if f]
        frames = [f.replace(str(ROOT) + "/", "").replace("/.venv/lib/", "/") for f in frames]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


PROFILE_RATE = 200  # py-spy samples per second


def start_profiler(
    args: argparse.Namespace, server: Server, run_dir: Path
) -> subprocess.Popen[bytes] | None:
    """py-spy on the server for the measured run: only samples holding the GIL (Python work)."""
    if not (args.profile or args.budget):
        return None
    return subprocess.Popen(
        [str(BIN / "py-spy"), "record", "--gil", "--nonblocking", "--subprocesses",
         "-r", str(PROFILE_RATE),
         "-d", str(args.duration), "-f", "raw", "-o", str(run_dir / "profile.txt"),
         "-p", str(server.proc.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


# -- a backend's databases -------------------------------------------------------------------------
class Backend:
    """One backend for the whole run. PostgreSQL: a database migrated once, copied (``CREATE
    DATABASE ... TEMPLATE``) for each measurement; SQLite: a fresh data directory each time."""

    def __init__(self, args: argparse.Namespace, name: str, stack: contextlib.ExitStack) -> None:
        self.args = args
        self.name = name
        self.template_db: str | None = None
        if name == "postgresql":
            self.template_db = pg.create_database(args.pg_url)
            stack.callback(pg.drop_database, args.pg_url, self.template_db)
            url = f"{args.pg_url}/{self.template_db}"
            env = {**os.environ, "IMPRINT_DATABASE_URL": url}
            sh([str(BIN / "imprint-sessions"), "db", "upgrade"], env=env)

    def database(self, stack: contextlib.ExitStack, data_dir: Path) -> tuple[str, str | None]:
        """A fresh database for one measurement: its URL, and (PostgreSQL) its name."""
        if self.template_db is None:
            return f"sqlite:///{data_dir / 'imprint.sqlite3'}", None
        name = pg.create_database(self.args.pg_url, template=self.template_db)
        stack.callback(pg.drop_database, self.args.pg_url, name)
        return f"{self.args.pg_url}/{name}", name


@dataclass
class Running:
    """A started server and what a scenario needs of it."""

    server: Server
    db_url: str
    dbname: str | None
    data_dir: Path
    run_dir: Path
    secret_key: str
    template: dict[str, Any]  # the preflight's session (the pools' template)

    @property
    def sqlite_path(self) -> Path:
        return Path(self.db_url.removeprefix("sqlite:///"))

    def make_pool(self, salt: str, count: int) -> None:
        if self.dbname is None:
            pools.create_sqlite_pool(self.sqlite_path, self.template["id"], salt, 1, count)
        else:
            pools.create_pg_pool(self.db_url, self.template["id"], salt, 1, count)

    def analyze(self) -> None:
        """Give PostgreSQL the statistics a deployment's tables have (autovacuum's ANALYZE).

        A fresh database has none, and autovacuum does not analyze within a short run. A plan
        prepared and frozen while a table was nearly empty is then arbitrary: measured without
        this, create-session for new customers looked customers up through an index on
        ``partner_id`` alone and its cost grew with every customer (BENCHMARKS.md).
        """
        if self.dbname is not None:
            pools.psql(self.db_url, "ANALYZE")


def start(
    args: argparse.Namespace,
    backend: Backend,
    run_dir: Path,
    workers: int,
    stack: contextlib.ExitStack,
    extra_env: dict[str, str] | None = None,
) -> Running:
    data_dir = run_dir / "data"
    data_dir.mkdir(parents=True)
    stack.callback(shutil.rmtree, data_dir, True)
    db_url, dbname = backend.database(stack, data_dir)
    secret_key = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "IMPRINT_ENV": "sandbox",
        "IMPRINT_DATABASE_URL": db_url,
        "IMPRINT_DATA_DIR": str(data_dir),
        "IMPRINT_SECRET_KEY": secret_key,
    }
    env.setdefault("IMPRINT_ACCESS_LOG", "true")  # as deployed
    # One API key sends everything: the per-key rate limit would answer 429s.
    env.setdefault("IMPRINT_RATE_LIMIT_PER_SECOND", "0")
    env.update(extra_env or {})
    if dbname is not None:
        pg.wait_for_connections(args.pg_url, 16 * workers)  # the service's pools (16 each)
    server = Server(env, workers, run_dir)
    stack.callback(server.stop)
    server.wait_ready()
    template = server.create_session()
    return Running(server, db_url, dbname, data_dir, run_dir, secret_key, template)


# -- wrk -------------------------------------------------------------------------------------------
def wrk_command(
    args: argparse.Namespace, url: str, lua: str, seconds: int, lua_args: list[str]
) -> list[str]:
    return [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
        "--latency", "-s", str(BENCH_DIR / lua), url, "--", *lua_args,
    ]  # fmt: skip


def wrk_stats(out: str, log_path: Path) -> dict[str, Any]:
    """wrk's figures (from the lua script's done()); any non-2xx or socket error fails."""
    stats = marked_json(out, "BENCH_JSON", "wrk", log_path)
    if stats.get("exhausted"):
        raise BenchError(
            f"wrk ran out of fresh client secrets ({stats['exhausted']} requests had none; the "
            f"pool is sized at twice the fastest rate seen so far): run again (see {log_path})"
        )
    errors = {k: v for k, v in stats.items() if k.startswith("errors_") and v}
    if errors or stats["requests"] == 0:
        raise BenchError(f"wrk saw non-2xx responses or socket errors {errors} (see {log_path})")
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def server_statuses(server: Server | None) -> str:
    """What the server's access log says it answered other than 2xx, to explain a failure."""
    if server is None or not server.log_path.exists():
        return ""
    counts: collections.Counter[str] = collections.Counter()
    for line in server.log_path.read_text().splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            entry = json.loads(line)
            if entry.get("logger") == "imprint_sessions.access" and entry["status"] >= 300:
                counts[f"{entry['status']} {entry['path']}"] += 1
    if not counts:
        return ""
    text = ", ".join(f"{n} x {what}" for what, n in counts.most_common(5))
    return (
        f"\nthe server's access log: {text} (400s when a run ends are requests cut off as wrk "
        "closes its connections; a 503 after ~2 s is the pool's acquire timeout: the machine "
        "was overloaded)"
    )


# (phase "warmup" or "measured", the fastest rate seen so far, attempt) -> (lua args, env)
Prepare = Callable[[str, float | None, int], tuple[list[str], dict[str, str]]]


def measure_wrk(
    args: argparse.Namespace,
    url: str,
    lua: str,
    prepare: Prepare,
    run_dir: Path,
    *,
    server: Server | None = None,
    server_pgid: int | None = None,
    dbname: str | None = None,
    after_warmup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """A warm-up, then measured runs, retried while the machine is busy (the least disturbed
    kept). The figures of the kept run: req/s, latencies, cores used, CPU per 1,000 requests."""
    lua_args, env = prepare("warmup", None, 0)
    warmup = wrk_command(args, url, lua, args.warmup, lua_args)
    log = run_dir / "wrk-warmup.txt"
    rate = wrk_stats(run_load(warmup, args.warmup, log, env={**os.environ, **env})[0], log)["rps"]
    if after_warmup is not None:
        after_warmup()
    best: tuple[dict[str, Any], dict[str, float]] | None = None
    cmd: list[str] = []
    for attempt in range(1, args.retries + 2):
        lua_args, env = prepare("measured", rate, attempt)
        wait_for_quiet(args.quiet_cores, args.quiet_wait)
        profiler = start_profiler(args, server, run_dir) if server else None
        counter = None
        if args.budget and server is not None:
            checkouts_before = pool_checkouts(server.base_url)
            counter = start_syscall_counter(
                list(group_cpu(server.pgid)), args.duration, run_dir / "syscalls.txt"
            )
        cmd = wrk_command(args, url, lua, args.duration, lua_args)
        log = run_dir / f"wrk-{attempt}.txt"
        output, cores = run_load(
            cmd,
            args.duration,
            log,
            env={**os.environ, **env},
            server_pgid=server_pgid,
            dbname=dbname,
        )
        try:
            stats = wrk_stats(output, log)
        except BenchError as exc:
            raise BenchError(f"{exc}{server_statuses(server)}") from None
        if profiler is not None:
            profiler.wait(timeout=60)
            summary = summarise_profile(run_dir / "profile.txt")
            (run_dir / "profile-summary.txt").write_text(summary)
            if args.profile:
                print(summary)
        if counter is not None:
            assert server is not None
            counter.wait(timeout=60)
            counts, total = categorise(run_dir / "profile.txt")
            stats["budget"] = budget(
                counts=counts,
                total_samples=total,
                sample_rate=PROFILE_RATE,
                seconds=args.duration,
                server_cores=cores["server"],
                rps=stats["rps"],
                syscalls=read_syscalls(run_dir / "syscalls.txt"),
                requests=stats["requests"],
                checkouts=pool_checkouts(server.base_url) - checkouts_before,
            )
        stats["attempt"] = attempt
        rate = max(rate, stats["rps"])
        if best is None or cores["other"] < best[1]["other"]:
            best = (stats, cores)
        if cores["other"] <= args.quiet_cores:
            break
        print(
            f"   contended (others used {cores['other']:.2f} cores), attempt {attempt}", flush=True
        )
    assert best is not None
    stats, cores = best
    rps = stats["rps"]
    return {
        "rps": rps,
        "p50_ms": stats["p50_us"] / 1000,
        "p99_ms": stats["p99_us"] / 1000,
        # Over the measuring window: cores / (requests per second) = CPU seconds per request.
        "server_cpu_per_1k": cores["server"] / rps * 1000,
        "db_cpu_per_1k": cores["postgres"] / rps * 1000 if dbname else None,
        "rss_mb": cores["server_rss_mb"],
        "cores": cores,
        "contended": cores["other"] > args.quiet_cores,
        "wrk": stats,
        **({"budget": stats["budget"]} if "budget" in stats else {}),
        "wrk_command": " ".join([*cmd[: -len(lua_args) - 3], lua, "URL", "--", *lua_args[:1]]),
    }


# -- the scenarios ---------------------------------------------------------------------------------
def wrk_scenario(args: argparse.Namespace, scenario: str, run: Running) -> dict[str, Any]:
    key_env = {"IMPRINT_API_KEY": run.server.api_key}
    if scenario in CREATE:
        return measure_wrk(
            args,
            run.server.base_url,
            "create_session.lua",
            lambda *_: ([scenario], key_env),
            run.run_dir,
            server=run.server,
            server_pgid=run.server.pgid,
            dbname=run.dbname,
            after_warmup=run.analyze,
        )
    if scenario == "retrieve":
        run.make_pool(RETRIEVE_SALT, args.retrieve_pool)
        ids = run.data_dir / "retrieve-ids.txt"
        pools.write_ids(ids, RETRIEVE_SALT, 1, args.retrieve_pool)
        run.server.get_session(pools.pool_id(RETRIEVE_SALT, args.retrieve_pool))  # it is there
        return measure_wrk(
            args,
            run.server.base_url,
            "retrieve.lua",
            lambda *_: ([str(ids)], key_env),
            run.run_dir,
            server=run.server,
            server_pgid=run.server.pgid,
            dbname=run.dbname,
            after_warmup=run.analyze,
        )

    def exchange_pool(
        phase: str, rate: float | None, attempt: int
    ) -> tuple[list[str], dict[str, str]]:
        # Enough fresh secrets for the run at twice the fastest rate seen (or the guess).
        seconds = args.warmup if phase == "warmup" else args.duration
        count = math.ceil((2 * rate if rate else args.exchange_rate_guess) * seconds)
        count += 2 * args.connections
        salt = f"bench-exchange-{attempt}-"
        run.make_pool(salt, count)
        path = run.data_dir / f"exchange-secrets-{attempt}.txt"
        kid = run.template["client_secret"].split("_")[1]
        pools.write_secrets(path, salt, 1, count, secret_key=run.secret_key, kid=kid)
        # The service derives the same secret for the pool's first row (read, not redeemed).
        first = run.server.get_session(pools.pool_id(salt, 1))["client_secret"]
        if first != path.read_text().split("\n", 1)[0]:
            raise BenchError("the exchange pool's secrets are not the service's: update pools.py")
        return [str(path), str(args.threads)], {}

    return measure_wrk(
        args,
        run.server.base_url,
        "exchange.lua",
        exchange_pool,
        run.run_dir,
        server=run.server,
        server_pgid=run.server.pgid,
        dbname=run.dbname,
        after_warmup=run.analyze,
    )


def client_path_scenario(args: argparse.Namespace, run: Running) -> dict[str, Any]:
    """The stateful path, driven by the Python driver (its CPU is reported: it must not be the
    limit)."""
    env = module_env(IMPRINT_API_KEY=run.server.api_key)

    def command(seconds: int) -> list[str]:
        return module_command(
            "client_path",
            "--url",
            run.server.base_url,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(args.path_concurrency),
        )

    def parse(out: str, log: Path, *, measured: bool = True) -> dict[str, Any]:
        result = marked_json(out, "PATH_JSON", "the client-path driver", log)
        if "error" in result or (measured and not result["paths"]):
            raise BenchError(f"client_path: {result.get('error', 'no path completed')} (see {log})")
        return result

    log = run.run_dir / "path-warmup.txt"
    parse(run_load(command(args.warmup), args.warmup, log, env=env)[0], log, measured=False)
    run.analyze()
    best: tuple[dict[str, Any], dict[str, float]] | None = None
    for attempt in range(1, args.retries + 2):
        wait_for_quiet(args.quiet_cores, args.quiet_wait)
        profiler = start_profiler(args, run.server, run.run_dir)
        log = run.run_dir / f"path-{attempt}.txt"
        out, cores = run_load(
            command(args.duration),
            args.duration,
            log,
            env=env,
            server_pgid=run.server.pgid,
            dbname=run.dbname,
        )
        stats = parse(out, log)
        if profiler is not None:
            profiler.wait(timeout=60)
            (run.run_dir / "profile-summary.txt").write_text(
                summarise_profile(run.run_dir / "profile.txt")
            )
        if best is None or cores["other"] < best[1]["other"]:
            best = (stats, cores)
        if cores["other"] <= args.quiet_cores:
            break
        print(
            f"   contended (others used {cores['other']:.2f} cores), attempt {attempt}", flush=True
        )
    assert best is not None
    stats, cores = best
    rps = stats["requests"] / stats["seconds"]
    return {
        "rps": rps,
        "paths_per_s": stats["paths"] / stats["seconds"],
        "steps": stats["steps"],
        "p50_ms": None,
        "p99_ms": None,
        "server_cpu_per_1k": cores["server"] / rps * 1000,
        "db_cpu_per_1k": cores["postgres"] / rps * 1000 if run.dbname else None,
        "driver_cpu_per_1k": cores["load_generator"] / rps * 1000,
        "rss_mb": cores["server_rss_mb"],
        "cores": cores,
        "contended": cores["other"] > args.quiet_cores,
        "driver": stats,
    }


# -- the bars --------------------------------------------------------------------------------------
def pgbench_bar(args: argparse.Namespace, scenario: str, run: Running) -> dict[str, Any]:
    template_id = run.template["id"]
    if scenario in CREATE:
        text, defines = pg.create_session_script(run.db_url, template_id, scenario)
        return pg.run_pgbench(args, run.db_url, run.run_dir, lambda *_: pg.Script(text, defines))
    if scenario == "retrieve":
        text, defines = pg.retrieve_script(
            run.db_url, template_id, RETRIEVE_SALT, args.retrieve_pool
        )
        return pg.run_pgbench(args, run.db_url, run.run_dir, lambda *_: pg.Script(text, defines))

    def exchange(phase: str, rate: float | None, attempt: int) -> pg.Script:
        seconds = args.warmup if phase == "warmup" else args.duration
        per_client = pg.exchange_pool_size(
            rate, seconds, args.connections, args.exchange_rate_guess
        )
        salt = f"bench-pgbench-{attempt}-"
        pools.create_pg_pool(run.db_url, template_id, salt, 1, per_client * args.connections)
        now = int(time.time() * 1000)
        text, defines = pg.exchange_script(run.db_url, template_id, salt, 1, per_client, now)
        # The warm-up redeems its whole pool (a set count); measured runs last --duration.
        length = ["-t", str(per_client)] if phase == "warmup" else []
        return pg.Script(text, defines, length, pg.verify_redeemed(run.db_url, now))

    return pg.run_pgbench(args, run.db_url, run.run_dir, exchange)


def sqlite_bar(args: argparse.Namespace, scenario: str, run: Running) -> dict[str, Any]:
    """The service's transactions in a bare sqlite3 loop (imprint_bench.sqlite_loop)."""
    synchronous = os.environ.get("IMPRINT_SQLITE_SYNCHRONOUS", "FULL")

    def command(seconds: int) -> list[str]:
        return module_command(
            "sqlite_loop",
            "--db",
            str(run.sqlite_path),
            "--synchronous",
            synchronous,
            "--scenario",
            scenario,
            "--template-id",
            run.template["id"],
            "--seconds",
            str(seconds),
            "--pool-salt",
            RETRIEVE_SALT,
            "--pool-size",
            str(args.retrieve_pool),
        )

    def parse(out: str) -> dict[str, Any]:
        return marked_json(out, "LOOP_JSON", "the sqlite3 loop")

    env = module_env()
    parse(run_load(command(args.warmup), args.warmup, run.run_dir / "loop-warmup.txt", env=env)[0])
    best: dict[str, Any] | None = None
    for attempt in range(1, args.retries + 2):
        wait_for_quiet(args.quiet_cores, args.quiet_wait)
        out, cores = run_load(
            command(args.duration), args.duration, run.run_dir / f"loop-{attempt}.txt", env=env
        )
        figures = parse(out)
        tps = figures["transactions"] / figures["seconds"]
        result = {
            "tps": tps,
            "p50_us": figures["p50_us"],
            "p99_us": figures["p99_us"],
            # The loop process is the database here: its CPU is SQLite's (and the loop's).
            "db_cpu_per_1k": cores["load_generator"] / tps * 1000,
            "cores": cores,
            "attempt": attempt,
            "contended": cores["other"] > args.quiet_cores,
            "command": f"python -m imprint_bench.sqlite_loop --scenario {scenario} "
            f"--synchronous {synchronous} --seconds {args.duration}",
        }
        if best is None or cores["other"] < best["cores"]["other"]:
            best = result
        if cores["other"] <= args.quiet_cores:
            break
        print(f"   sqlite3 loop contended (others used {cores['other']:.2f} cores)", flush=True)
    assert best is not None
    return best


# -- overload --------------------------------------------------------------------------------------
# (name, server settings): the capacity case (every request valid and within its key's limit:
# what the process cannot take it must shed) and the per-key limit's (most requests refused 429,
# as in issue 15's report).
OVERLOAD_CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("capacity", {}),
    ("per-key limit", {"IMPRINT_RATE_LIMIT_PER_SECOND": "100", "IMPRINT_RATE_LIMIT_BURST": "200"}),
)


def overload_scenario(args: argparse.Namespace, backend: Backend, out: Path) -> dict[str, Any]:
    """Create-session for new customers from the overload driver (every request timed from when
    its connection wanted to send it, a 2 s budget each) at 64 connections, then at each of
    ``--overload-connections``; per case, a fresh database and server."""
    cases = []
    for name, extra_env in OVERLOAD_CASES:
        run_dir = out / f"{backend.name}-overload-{name.replace(' ', '-')}"
        with contextlib.ExitStack() as stack:
            run = start(args, backend, run_dir, args.workers, stack, extra_env)
            drive(run, 32, args.warmup, "warmup")
            run.analyze()
            runs = [drive(run, c, args.duration, str(c)) for c in (64, *args.overload_connections)]
        cases.append({"case": name, "runs": runs})
    return {"cases": cases}


def drive(run: Running, connections: int, seconds: int, label: str) -> dict[str, Any]:
    """One run of the overload driver against ``run``'s server; its figures and the cores."""
    return run_overload_driver(
        run.server.base_url,
        run.server.api_key,
        connections,
        seconds,
        run.run_dir / f"overload-{label}.txt",
        server_pgid=run.server.pgid,
        dbname=run.dbname,
    )


def run_overload_driver(
    url: str,
    api_key: str,
    connections: int,
    seconds: int,
    log: Path,
    *,
    server_pgid: int | None = None,
    dbname: str | None = None,
) -> dict[str, Any]:
    """``imprint_bench.overload`` at ``url`` (a second's warm-up, then ``seconds``): its figures,
    and the cores used while it ran (the server's if ``server_pgid``)."""
    cmd = module_command("overload", "--url", url, "--connections", str(connections),
                         "--seconds", str(seconds), "--warmup", "1")  # fmt: skip
    output, cores = run_load(
        cmd,
        seconds + 1,
        log,
        env=module_env(IMPRINT_API_KEY=api_key),
        server_pgid=server_pgid,
        dbname=dbname,
    )
    result = marked_json(output, "OVERLOAD_JSON", "the overload driver", log)
    result["cores"] = cores
    return result


def overload_report(results: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for r in results:
        if r["scenario"] != "overload":
            continue
        lines += [
            "",
            f"overload on {r['backend']} (create-session, new customers; every request timed "
            "from when its connection wanted to send it, 2 s budget):",
            "",
            "| case | connections | answers/s | admitted (200)/s | admitted vs 64 "
            "| 200 p50 / p99 ms | refused (429, 503)/s | refused p50 / p99 / max ms "
            "| timeouts | connections answered | server cores |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for case in r["cases"]:
            base = case["runs"][0]["admitted_per_s"]
            for run in case["runs"]:
                ok = run["statuses"].get("200", {"p50_ms": 0.0, "p99_ms": 0.0})
                refused = run["refused"]
                lines.append(
                    f"| {case['case']} | {run['connections']} | {run['answers_per_s']:,.0f} "
                    f"| {run['admitted_per_s']:,.0f} "
                    f"| {run['admitted_per_s'] / base if base else 0:.2f} "
                    f"| {ok['p50_ms']:.0f} / {ok['p99_ms']:.0f} "
                    f"| {refused['count'] / run['seconds']:,.0f} "
                    f"| {refused['p50_ms']:.0f} / {refused['p99_ms']:.0f} "
                    f"/ {refused['max_ms']:.0f} "
                    f"| {run['timeouts']} | {run['answered_connections']} of {run['connections']} "
                    f"| {run['cores']['server']:.2f} |"
                )
    return lines


def overload_ratios(r: dict[str, Any]) -> list[str]:
    """``ratio overload-<case>-<connections>``: admitted requests per second there over the
    same case's at 64 connections (the issue's bar: at least 0.9)."""
    prefix = "overload" if r["backend"] == "postgresql" else "sqlite-overload"
    lines = []
    for case in r["cases"]:
        base = case["runs"][0]["admitted_per_s"]
        name = "capacity" if case["case"] == "capacity" else "limited"
        for run in case["runs"][1:]:
            value = run["admitted_per_s"] / base if base else 0.0
            lines.append(f"ratio {prefix}-{name}-{run['connections']} {value:.2f}")
    return lines


# -- one measurement -------------------------------------------------------------------------------
def run_scenario(
    args: argparse.Namespace,
    backend: Backend,
    scenario: str,
    out: Path,
    *,
    workers: int,
    with_bar: bool,
) -> dict[str, Any]:
    name = f"{backend.name}-{scenario}" + (f"-{workers}workers" if workers != args.workers else "")
    run_dir = out / name
    result: dict[str, Any] = {"backend": backend.name, "scenario": scenario, "workers": workers}
    if scenario == "overload":
        result.update(overload_scenario(args, backend, out))
        return result
    with contextlib.ExitStack() as stack:
        run = start(args, backend, run_dir, workers, stack)
        if scenario == "client_path":
            result.update(client_path_scenario(args, run))
        else:
            result.update(wrk_scenario(args, scenario, run))
        run.server.stop()
        if with_bar and scenario != "client_path":
            if backend.name == "postgresql":
                result["bar"] = {"name": "pgbench", **pgbench_bar(args, scenario, run)}
            elif scenario in LOOP_SCENARIOS:
                result["bar"] = {"name": "sqlite3 loop", **sqlite_bar(args, scenario, run)}
            if "bar" in result:
                result["ratio"] = result["rps"] / result["bar"]["tps"]
    return result


def run_prism(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    run_dir = out / "prism-new"
    run_dir.mkdir(parents=True)
    spec = prism.seed_openapi(run_dir / "seed-openapi.yaml")
    server = prism.Prism(spec, run_dir, args.prism_verbosity)
    try:
        server.wait_ready()
        env = {"IMPRINT_API_KEY": "isk_test_" + "p" * 43}
        result = measure_wrk(
            args,
            server.base_url,
            "create_session.lua",
            lambda *_: (["new"], env),
            run_dir,
            server_pgid=server.pgid,
        )
    finally:
        server.stop()
    return {"backend": "prism", "scenario": "new", "workers": 1, **result}


# -- the report ------------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| backend | scenario | workers | req/s | p50 ms | p99 ms | server CPU s/1k req "
        "| db CPU s/1k req | server RSS MB | bar | bar tx/s | bar p50 / p99 ms "
        "| bar db CPU s/1k tx | service/bar |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|",
    ]
    measured = [r for r in results if r["scenario"] != "overload"]
    for r in measured:
        bar = r.get("bar")
        bar_cells = ["-", "-", "-", "-", "-"]
        if bar:
            bar_cells = [
                bar["name"] + (" (contended)" if bar["contended"] else ""),
                _num(bar["tps"], 0),
                f"{bar['p50_us'] / 1000:.2f} / {bar['p99_us'] / 1000:.2f}",
                _num(bar["db_cpu_per_1k"]),
                _num(r["ratio"]),
            ]
        lines.append(
            f"| {r['backend']} | {r['scenario']}{' (contended)' if r['contended'] else ''} "
            f"| {r['workers']} | {_num(r['rps'], 0)} | {_num(r['p50_ms'], 1)} "
            f"| {_num(r['p99_ms'], 1)} | {_num(r['server_cpu_per_1k'])} "
            f"| {_num(r['db_cpu_per_1k'])} | {_num(r['rss_mb'], 0)} | "
            + " | ".join(bar_cells)
            + " |"
        )
    for r in measured:
        if r["scenario"] != "client_path":
            continue
        d = r["driver"]
        lines += [
            "",
            f"client_path on {r['backend']} ({args.path_concurrency} customers at once): "
            f"{r['paths_per_s']:.1f} paths/s, {r['rps']:.0f} req/s; cores: driver "
            f"{r['cores']['load_generator']:.2f}, server {r['cores']['server']:.2f}, "
            f"postgres {r['cores']['postgres']:.2f}; CPU s/1k req: driver "
            f"{r['driver_cpu_per_1k']:.2f}, server {r['server_cpu_per_1k']:.2f}",
            "",
            "| step | requests | p50 ms | p99 ms |",
            "|---|--:|--:|--:|",
        ]
        lines += [
            f"| {step} | {s['count']} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} |"
            for step, s in d["steps"].items()
        ]
    lines += [
        "",
        "| CPU cores busy while measuring | server | of which event loop | postgres "
        "| load generator | other | machine |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in measured:
        runs = [(f"{r['backend']} {r['scenario']} ({r['workers']}w)", r["cores"])]
        if "bar" in r:
            runs.append((f"{r['bar']['name']} {r['scenario']}", r["bar"]["cores"]))
        for name, c in runs:
            lines.append(
                f"| {name} | {c['server']:.2f} | {c['event_loop']:.2f} | {c['postgres']:.2f} "
                f"| {c['load_generator']:.2f} | {c['other']:.2f} | {c['machine']:.2f} |"
            )
    lines += overload_report(results)
    lines += budget_table(results)
    return "\n".join(lines) + "\n"


def ratio_lines(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """``ratio <name> <value>``: one a line, the last lines of the output."""
    lines = []
    main = [r for r in results if r["backend"] != "prism" and r["workers"] == args.workers]
    for r in main:
        if r["scenario"] == "overload":
            lines += overload_ratios(r)
        if "ratio" in r:
            name = r["scenario"] if r["backend"] == "postgresql" else f"sqlite-{r['scenario']}"
            lines.append(f"ratio {name} {r['ratio']:.2f}")
    service_new = next((r for r in main if r["scenario"] == "new"), None)
    prism_run = next((r for r in results if r["backend"] == "prism"), None)
    if service_new and prism_run:
        lines.append(f"ratio prism {service_new['rps'] / prism_run['rps']:.2f}")
    for r in results:
        if r["backend"] != "prism" and r["workers"] != args.workers:
            same = next(
                (m for m in main if (m["backend"], m["scenario"]) == (r["backend"], r["scenario"])),
                None,
            )
            if same:
                lines.append(f"ratio workers{r['workers']} {r['rps'] / same['rps']:.2f}")
    return lines


def source_state() -> str:
    """The commit, and whether src/ differs from it (figures belong to the code they measured)."""
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head or 'unknown'}{' + uncommitted changes in src/' if dirty else ''}"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="Load-test the service (wrk on loopback) against PostgreSQL (pgbench with "
        "the service's own SQL), a bare sqlite3 loop and Prism. See benchmarks/README.md.",
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: PostgreSQL, new,existing,retrieve,exchange, 2 s warm-up\n"
        "+ 5 s runs, no waiting for a quiet machine, no Prism or scaling run",
    )
    p.add_argument("--backends", help=f"postgresql,sqlite (default {FULL['backends']})")
    p.add_argument("--scenarios", help=f"{','.join(SCENARIOS)} (default {FULL['scenarios']})")
    p.add_argument("--duration", type=int, help="measured seconds per run (20; --quick 5)")
    p.add_argument("--warmup", type=int, help="warm-up seconds per run (5; --quick 2)")
    p.add_argument(
        "--connections", type=int, default=64, help="wrk connections, pgbench clients (64)"
    )
    p.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads (2)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes (1)")
    p.add_argument(
        "--scale-workers",
        type=int,
        help="also run --scale-scenario with this many workers and print the ratio\n"
        "to --workers (2; 0: no scaling run; --quick 0)",
    )
    p.add_argument("--scale-scenario", default="new", help="the scaling run's scenario (new)")
    p.add_argument(
        "--path-concurrency", type=int, default=16, help="client_path customers at once (16)"
    )
    p.add_argument("--retrieve-pool", type=int, help="sessions the retrieve scenario reads (20000)")
    p.add_argument(
        "--overload-connections",
        default="300,1000",
        help="the overload scenario's connection counts, after 64 (300,1000)",
    )
    p.add_argument(
        "--exchange-rate-guess",
        type=float,
        default=6000,
        help="req/s assumed to size the exchange warm-up pools (6000)",
    )
    p.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server (no database name); fresh databases are made per run",
    )
    p.add_argument(
        "--quiet-cores",
        type=float,
        default=0.25,
        help="CPU cores other processes may use during a measurement (0.25); more:\nwait, retry",
    )
    p.add_argument("--quiet-wait", type=float, help="max seconds to wait for quiet (60; --quick 0)")
    p.add_argument("--retries", type=int, help="re-measure a contended run (2; --quick 0)")
    p.add_argument(
        "--no-pgbench", action="store_true", help="skip the bars (pgbench, sqlite3 loop)"
    )
    p.add_argument(
        "--no-prism",
        dest="prism",
        action="store_false",
        default=None,
        help="skip the Prism comparison",
    )
    p.add_argument(
        "--prism-verbosity",
        default="info",
        help="prism mock -v (info: as it ships; 'silent' to compare without its log)",
    )
    p.add_argument("--profile", action="store_true", help="py-spy the server during measured runs")
    p.add_argument(
        "--candidates",
        action="store_true",
        help="only evaluate what would change the floor (granian and uvicorn, msgspec and\n"
        "pydantic, a bare ASGI path): see candidates.py",
    )
    p.add_argument(
        "--budget",
        action="store_true",
        help="print each scenario's CPU budget per request: py-spy by category, system calls\n"
        "(perf stat) and SQL round trips (pg_stat_database); see budget.py",
    )
    p.add_argument("--out", type=Path, help="results dir (benchmarks/results/TIMESTAMP)")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for option, default in preset.items():
        if getattr(args, option) is None:
            setattr(args, option, default)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if not set(args.backends) <= {"postgresql", "sqlite"}:
        p.error("--backends: postgresql and/or sqlite")
    if not set(args.scenarios) <= set(SCENARIOS):
        p.error(f"--scenarios: some of {', '.join(SCENARIOS)}")
    if args.scale_scenario not in SCENARIOS:
        p.error(f"--scale-scenario: one of {', '.join(SCENARIOS)}")
    args.overload_connections = [int(c) for c in args.overload_connections.split(",") if c]
    args.prism_unavailable = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-ups
    out = args.out or BENCH_DIR / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    if args.candidates:
        from imprint_bench import candidates

        try:
            ensure_tools(args)
            return candidates.main(args, out)
        except BenchError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    try:
        ensure_tools(args)
        header = (
            f"machine: {machine()}\nsource: {source_state()}\n"
            f"server: {args.workers} worker(s), access log "
            f"{os.environ.get('IMPRINT_ACCESS_LOG', 'true')}, SQLite synchronous "
            f"{os.environ.get('IMPRINT_SQLITE_SYNCHRONOUS', 'FULL')}\n"
            f"load: {args.connections} connections, {args.threads} threads, "
            f"{args.warmup} s warm-up + {args.duration} s measured per run\n"
        )
        print(f"results in {out}\n{header}", flush=True)
        for index, name in enumerate(args.backends):
            with contextlib.ExitStack() as stack:
                backend = Backend(args, name, stack)
                for scenario in args.scenarios:
                    print(f"== {name} / {scenario}", flush=True)
                    r = run_scenario(
                        args,
                        backend,
                        scenario,
                        out,
                        workers=args.workers,
                        with_bar=not args.no_pgbench,
                    )
                    results.append(r)
                    print_line(r)
                if index == 0 and args.scale_workers:
                    scenario = args.scale_scenario
                    if scenario not in args.scenarios:
                        print(
                            f"== {name} / {scenario} ({args.workers} worker(s), for scaling)",
                            flush=True,
                        )
                        r = run_scenario(
                            args, backend, scenario, out, workers=args.workers, with_bar=False
                        )
                        results.append(r)
                        print_line(r)
                    print(f"== {name} / {scenario} with {args.scale_workers} workers", flush=True)
                    r = run_scenario(
                        args, backend, scenario, out, workers=args.scale_workers, with_bar=False
                    )
                    results.append(r)
                    print_line(r)
        if args.prism and not args.prism_unavailable:
            print("== prism / new (the seed's OpenAPI, mocked)", flush=True)
            r = run_prism(args, out)
            results.append(r)
            print_line(r)
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        (out / "results.json").write_text(json.dumps(results, indent=2))
    minutes = (time.monotonic() - started) / 60
    notes = f"\nPrism: {args.prism_unavailable}\n" if args.prism_unavailable else ""
    text = f"$ benchmarks/run {' '.join(sys.argv[1:])}\n\n{header}\n{report(results, args)}{notes}"
    text += (
        f"\n(the whole run took {minutes:.1f} min)\n\n"
        + "\n".join(ratio_lines(results, args))
        + "\n"
    )
    (out / "results.md").write_text(text)
    print(f"\n{text}", end="")
    return 0


def print_line(r: dict[str, Any]) -> None:
    if r["scenario"] == "overload":
        for line in overload_ratios(r):
            print(f"   {line.removeprefix('ratio ')}", flush=True)
        return
    text = f"   {r['rps']:.0f} req/s"
    if r["p50_ms"] is not None:
        text += f", p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
    if r["scenario"] == "client_path":
        text += f", {r['paths_per_s']:.1f} paths/s, driver {r['cores']['load_generator']:.2f} cores"
    if "bar" in r:
        text += f"; {r['bar']['name']} {r['bar']['tps']:.0f} tx/s: ratio {r['ratio']:.2f}"
    print(text + (" (contended)" if r["contended"] else ""), flush=True)
