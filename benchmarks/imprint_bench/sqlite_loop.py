"""The SQLite bar: the service's own repository transactions in a bare loop.

One stdlib sqlite3 connection, opened by the service's ``connect`` (WAL, the same
``synchronous``, busy_timeout, foreign keys), and the service's repository methods run on it in
place: each write is its ``BEGIN IMMEDIATE`` ... ``COMMIT`` with the same statements, but no
HTTP, no validation, no event-loop-to-thread hop. One writer, as SQLite allows one at a time.

    python -m imprint_bench.sqlite_loop --db PATH --synchronous FULL --scenario new \
        --template-id ID --seconds 20 [--pool-salt S --pool-size N]

Prints one ``LOOP_JSON {...}`` line: transactions, seconds, p50/p99 (us).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imprint_bench.pools import pool_id
from imprint_bench.statements import column_of, drive


class _InPlaceHandle:
    """A connection handle with no thread: work runs on the one connection at once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        return work(self.conn)


def _template(conn: sqlite3.Connection, template_id: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    session = conn.execute(
        "SELECT * FROM customer_sessions WHERE id = ?", (template_id,)
    ).fetchone()
    found["s"] = dict(session)
    found["c"] = dict(
        conn.execute("SELECT * FROM customers WHERE id = ?", (session["customer_id"],)).fetchone()
    )
    return found


def _new_session(template: dict[str, dict[str, Any]]) -> Any:
    """A NewCustomerSession with the template's values (the fields mapped to columns)."""
    from imprint_sessions.storage.records import NewCustomer, NewCustomerSession

    def values(cls: Any, prefix: str) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(cls):
            table, column = column_of(prefix + f.name)
            if column in template[table]:
                out[f.name] = template[table][column]
        return out

    customer = NewCustomer(**values(NewCustomer, "new_customer."))
    fields = values(NewCustomerSession, "") | {"new_customer": customer, "customer_id": None}
    fields.setdefault("partner_customer_id", None)
    return NewCustomerSession(**fields)


def _audit_entry(new: Any) -> Any:
    """The audit entry the partner API writes with the session (an API key's, over HTTP)."""
    from imprint_sessions.domain import audit
    from imprint_sessions.storage.records import AuditContext

    actor = AuditContext(
        actor_type="api_key",
        actor_id="7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F",
        actor_display="isk_test_bnch",
        request_id="req_0123456789abcdef01234567",
        client_address="127.0.0.1",
    )
    return audit.new_event(
        actor,
        type=audit.CUSTOMER_SESSION_CREATED,
        object_type="customer_session",
        object_id=new.id,
        at=new.created_at,
        partner_id=new.partner_id,
    )


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--synchronous", default="FULL")
    p.add_argument("--scenario", required=True)
    p.add_argument("--template-id", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--pool-salt", default="")
    p.add_argument("--pool-size", type=int, default=0)
    args = p.parse_args()

    from imprint_sessions.storage.sqlite.runner import Handles, Runner, connect
    from imprint_sessions.storage.store import SqlRepositories

    conn = connect(args.db, args.synchronous)
    # The service's runner, bound to one in-place handle (as inside a unit of work): the same
    # statements and transactions, with no thread hop.
    handle = _InPlaceHandle(conn)
    repos = SqlRepositories(Runner(Handles([]), handle, write_lock=asyncio.Lock()))  # type: ignore[arg-type]
    template = _template(conn, args.template_id)
    base = _new_session(template)
    partner_id = template["s"]["partner_id"]
    run = uuid.uuid4().hex[:8]
    counter = 0

    def create(existing: bool) -> None:
        nonlocal counter
        counter += 1
        pcid = f"CUST_{random.randint(1, 100)}" if existing else f"LOOP_{run}_{counter}"
        new = dataclasses.replace(
            base,
            id=str(uuid.uuid4()).upper(),
            partner_customer_id=pcid,
            new_customer=dataclasses.replace(base.new_customer, id=str(uuid.uuid4()).upper()),
        )
        drive(repos.create_customer_session(new, audit=_audit_entry(new)))

    def retrieve() -> None:
        found = drive(
            repos.get_customer_session(
                partner_id, pool_id(args.pool_salt, random.randint(1, args.pool_size))
            )
        )
        if found is None:
            raise SystemExit("retrieve: a pool session was not found")

    step: Callable[[], None] = {
        "new": lambda: create(False),
        "existing": lambda: create(True),
        "mix": lambda: create(random.random() < 0.5),
        "retrieve": retrieve,
    }[args.scenario]
    latencies = []
    clock = time.perf_counter_ns
    start = clock()
    deadline = start + int(args.seconds * 1e9)
    now = start
    while now < deadline:
        step()
        done = clock()
        latencies.append(done - now)
        now = done
    latencies.sort()
    result = {
        "transactions": len(latencies),
        "seconds": (now - start) / 1e9,
        "p50_us": latencies[len(latencies) // 2] / 1000,
        "p99_us": latencies[int(len(latencies) * 0.99)] / 1000,
    }
    print("LOOP_JSON " + json.dumps(result), flush=True)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
