"""PostgreSQL: the benchmark's databases, and pgbench running the service's own statements."""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imprint_bench import pools, statements
from imprint_bench.common import BenchError, sh
from imprint_bench.pools import psql
from imprint_bench.proc import run_load, wait_for_quiet


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"imprint_bench_{secrets.token_hex(4)}"
    psql(
        f"{admin_url}/postgres",
        f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""),
    )
    return name


def drop_database(admin_url: str, name: str) -> None:
    psql(f"{admin_url}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def wait_for_connections(admin_url: str, needed: int, max_wait: float = 180) -> None:
    """Wait until the (shared) server has ``needed`` connections free, or fail saying so."""
    deadline = time.monotonic() + max_wait
    while True:
        free = int(
            psql(
                f"{admin_url}/postgres",
                "SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend'",
            )
        )
        if free >= needed + 1:
            return
        if time.monotonic() > deadline:
            raise BenchError(
                f"PostgreSQL has {free} connections free, the benchmark needs {needed}: other "
                "clients hold the rest (or lower --connections)"
            )
        print(f"   PostgreSQL has {free} connections free, {needed} needed: waiting", flush=True)
        time.sleep(5)


def param_types(db_url: str, sql: str) -> list[str]:
    """The parameter types PostgreSQL infers for the statement (as when asyncpg prepares it)."""
    text = psql(
        db_url,
        f"PREPARE bench_probe AS {sql}; "
        "SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'bench_probe'",
    )
    return text.strip("{}").split(",")


def template_values(db_url: str, template_id: str) -> dict[str, dict[str, Any]]:
    """The stored row of the template session ("s") and of its customer ("c")."""
    row = psql(
        db_url,
        "SELECT json_build_object('s', to_jsonb(s), 'c', to_jsonb(c)) FROM customer_sessions s "
        f"JOIN customers c ON c.id = s.customer_id WHERE s.id = '{template_id}'",
    )
    if not row:
        raise BenchError(f"template session {template_id} not found")
    values: dict[str, dict[str, Any]] = json.loads(row)
    return values


@dataclass
class Script:
    """A pgbench script and its options: ``-D`` values, and how long (``-T s`` or ``-t n``)."""

    text: str
    defines: list[str] = field(default_factory=list)
    length: list[str] = field(default_factory=list)
    verify: Callable[[str], None] | None = None  # checks the database after a run (its output)


def fill(
    statement: statements.Statement,
    types: list[str],
    choose: Callable[[int, str], str | None],
    template: dict[str, dict[str, Any]],
) -> tuple[str, list[str]]:
    """The statement with each ``$N`` replaced: by ``choose(N, field)`` when it returns SQL, else
    by the template row's value of that field, sent per transaction as ``-DvN`` (as the service
    sends parameters), or NULL. Every parameter keeps the type PostgreSQL inferred."""
    defines: list[str] = []

    def value(n: int, name: str) -> str:
        chosen = choose(n, name)
        if chosen is None:
            table, column = statements.column_of(name)
            if column not in template[table]:
                raise BenchError(f"no column {table}.{column} for ${n} ({name})")
            stored = template[table][column]
            if stored is None:
                chosen = "NULL"
            else:
                text = json.dumps(stored) if isinstance(stored, dict | list) else str(stored)
                defines.append(f"-Dv{n}={text}")
                chosen = f":v{n}"
        return f"({chosen})::{types[n - 1]}"

    sql = re.sub(
        r"\$(\d+)",
        lambda m: value(int(m.group(1)), statement.params[int(m.group(1)) - 1]),
        statement.sql,
    )
    return sql, defines


# partner_customer_id per scenario: never seen before, or one of the 100 the service made.
_PCID = {
    "new": ("\\set n random(1, 1000000000000000)\n", "'PGB_' || :n::text"),
    "existing": ("\\set k random(1, 100)\n", "'CUST_' || :k::text"),
    "mix": (
        "\\set k random(1, 100)\n\\set n random(1, 1000000000000000)\n\\set coin random(0, 1)\n",
        "CASE WHEN :coin::int = 1 THEN 'CUST_' || :k::text ELSE 'PGB_' || :n::text END",
    ),
}


def create_session_script(db_url: str, template_id: str, scenario: str) -> tuple[str, list[str]]:
    """The service's create-session statement: fresh UUIDs, the scenario's partner_customer_id,
    every other parameter the template's stored value."""
    statement = statements.create_session_statement()
    header, pcid = _PCID[scenario]

    def choose(_n: int, name: str) -> str | None:
        if name in ("id", "audit.id", "audit.object_id") or name.endswith(".id"):
            return "gen_random_uuid()"
        if name == "audit.type":
            return "'customer_session.created'"
        if name in statements.AUDIT_VALUES:
            return statements.AUDIT_VALUES[name]
        return pcid if name == "partner_customer_id" else None

    types = param_types(db_url, statement.sql)
    sql, defines = fill(statement, types, choose, template_values(db_url, template_id))
    return f"{header}{sql};\n", defines


def retrieve_script(db_url: str, template_id: str, salt: str, count: int) -> tuple[str, list[str]]:
    """The service's get-session statement for a random row of the retrieve pool."""
    statement = statements.get_session_statement()

    def choose(_n: int, name: str) -> str | None:
        return pools.pg_id_sql(salt, ":n") if name == "id" else None

    types = param_types(db_url, statement.sql)
    sql, defines = fill(statement, types, choose, template_values(db_url, template_id))
    return f"\\set n random(1, {count})\n{sql};\n", defines


def exchange_script(
    db_url: str, template_id: str, salt: str, first: int, per_client: int, now: int
) -> tuple[str, list[str]]:
    """The service's redeem statement, each transaction on a row never redeemed before: client
    ``c``'s ``i``-th transaction takes pool row ``first + c * per_client + i - 1`` (pgbench keeps
    ``:i`` per client across transactions). A client past its ``per_client`` rows aborts the
    run (``SELECT 1/0``) rather than redeem nothing."""
    statement = statements.consume_session_statement()

    def choose(_n: int, name: str) -> str | None:
        if name in ("id", "audit.object_id"):
            return pools.pg_id_sql(salt, ":n")
        if name == "audit.id":
            return "gen_random_uuid()"
        if name == "audit.type":
            return "'customer_session.exchanged'"
        if name in statements.AUDIT_VALUES:
            return statements.AUDIT_VALUES[name]
        return ":now" if name in ("now", "audit.created_at") else None

    types = param_types(db_url, statement.sql)
    sql, defines = fill(statement, types, choose, template_values(db_url, template_id))
    header = (
        "\\set i :i + 1\n"
        f"\\if :i > {per_client}\nSELECT 1/0 AS exchange_pool_exhausted;\n\\endif\n"
        f"\\set n {first - 1} + :client_id * {per_client} + :i\n"
    )
    return f"{header}{sql};\n", [*defines, "-Di=0", f"-Dnow={now}"]


def verify_redeemed(db_url: str, now: int) -> Callable[[str], None]:
    """A check that every transaction of a pgbench exchange run redeemed one session (each
    redemption stamps ``consumed_at`` with the run's ``now``), so none was a no-op."""

    def verify(out: str) -> None:
        found = re.search(r"number of transactions actually processed: (\d+)", out)
        processed = int(found.group(1)) if found else -1
        redeemed = int(
            psql(db_url, f"SELECT count(*) FROM customer_sessions WHERE consumed_at = {now}")
        )
        if redeemed != processed:
            raise BenchError(
                f"pgbench exchange: {processed} transactions but {redeemed} sessions redeemed"
            )

    return verify


def run_pgbench(
    args: Any,
    db_url: str,
    run_dir: Path,
    prepare: Callable[[str, float | None, int], Script],
) -> dict[str, Any]:
    """A warm-up, then measured runs (retried when the machine was busy, keeping the least
    disturbed). ``prepare(phase, rate, attempt)`` gives the script for the warm-up ("warmup")
    or a measured attempt ("measured", with the best rate seen so far)."""
    dbname = db_url.rsplit("/", 1)[1]
    base = ["pgbench", "-n", "-M", "prepared", "-c", str(args.connections), "-j", str(args.threads)]

    def command(script: Script, name: str, extra: list[str]) -> list[str]:
        path = run_dir / f"pgbench-{name}.sql"
        path.write_text(script.text)
        return [*base, "-f", str(path), *script.defines, *script.length, *extra, db_url]

    wait_for_connections(args.pg_url, args.connections)
    warm = prepare("warmup", None, 0)
    warm.length = warm.length or ["-T", str(args.warmup)]
    try:
        out = sh(command(warm, "warmup", []), timeout=args.warmup + 600).stdout
    except BenchError as exc:
        _checked(str(exc), run_dir)
        raise
    _checked(out, run_dir)
    if warm.verify:
        warm.verify(out)
    rate = _tps(out)
    best: dict[str, Any] | None = None
    for attempt in range(1, args.retries + 2):
        script = prepare("measured", rate, attempt)
        wait_for_quiet(args.quiet_cores, args.quiet_wait)
        wait_for_connections(args.pg_url, args.connections)
        log_prefix = run_dir / f"pgbench_log_{attempt}"
        cmd = command(
            script, f"{attempt}", ["-T", str(args.duration), "-l", "--log-prefix", str(log_prefix)]
        )
        try:
            out, cores = run_load(
                cmd, args.duration, run_dir / f"pgbench-{attempt}.txt", dbname=dbname
            )
        except BenchError as exc:
            _checked(str(exc), run_dir)
            raise
        _checked(out, run_dir)
        if script.verify:
            script.verify(out)
        latencies = []
        for log in run_dir.glob(f"{log_prefix.name}.*"):
            latencies += [int(line.split()[2]) for line in log.read_text().splitlines()]
            log.unlink()
        latencies.sort()
        tps = _tps(out)
        if not latencies:
            raise BenchError(f"pgbench: no transactions logged:\n{out}")
        result = {
            "tps": tps,
            "p50_us": latencies[len(latencies) // 2],
            "p99_us": latencies[int(len(latencies) * 0.99)],
            "db_cpu_per_1k": cores["postgres"] / tps * 1000,
            "cores": cores,
            "attempt": attempt,
            "contended": cores["other"] > args.quiet_cores,
            "command": " ".join(base) + f" -f pgbench-{attempt}.sql -D... -T {args.duration} DB",
        }
        rate = max(rate or 0.0, tps)
        if best is None or cores["other"] < best["cores"]["other"]:
            best = result
        if cores["other"] <= args.quiet_cores:
            break
        print(f"   pgbench contended (others used {cores['other']:.2f} cores)", flush=True)
    assert best is not None
    return best


def _tps(out: str) -> float:
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if found is None:
        raise BenchError(f"pgbench: no tps in its output:\n{out[-2000:]}")
    return float(found.group(1))


def _checked(out: str, run_dir: Path) -> str:
    if "exchange_pool_exhausted" in out or "division by zero" in out:
        raise BenchError(
            "pgbench ran out of fresh sessions to redeem (the pool is sized at 2.5 times the "
            f"fastest rate seen so far): run again (see {run_dir})"
        )
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        raise BenchError(f"pgbench: {failed.group(1)} failed transactions (see {run_dir})")
    return out


def exchange_pool_size(rate: float | None, seconds: int, clients: int, guess: float) -> int:
    """Rows per client for ``seconds`` at 2.5 times ``rate``, and at least at ``guess`` per second
    (a warm-up's rate can be well under a measured run's: pgbench ran out at 1.5 times)."""
    return math.ceil(max(rate * 2.5 if rate else 0.0, guess) * seconds / clients) + 2
