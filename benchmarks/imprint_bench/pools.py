"""Pre-made customer sessions for the retrieve and exchange scenarios.

Each pool is ``count`` copies of one session the service wrote (the template: same partner,
customer, secret key id, customer_history and metadata), with fresh, unconsumed rows whose ids
are derived from a salt and a number, ``md5(salt || n)`` as a UUID: random-looking like the
service's own ids, and computable by PostgreSQL (pgbench) and by this script alike. Their client
secrets are derived with the project's ``SecretBox`` from IMPRINT_SECRET_KEY, as the service does.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from pathlib import Path

from imprint_bench.common import BenchError, sh


def pool_id(salt: str, n: int) -> str:
    """The id of row ``n`` of a pool: PostgreSQL's ``md5(salt || n)::uuid``, as the service
    writes ids (uppercase)."""
    return str(uuid.UUID(hashlib.md5(f"{salt}{n}".encode()).hexdigest())).upper()


def pg_id_sql(salt: str, number_sql: str) -> str:
    """The SQL expression for ``pool_id(salt, <number_sql>)``."""
    return f"md5('{salt}' || {number_sql})::uuid"


def psql(url: str, sql: str, *, timeout: float = 600) -> str:
    return sh(
        ["psql", url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=timeout
    ).stdout.strip()


def _pg_columns(db_url: str) -> list[str]:
    return psql(
        db_url,
        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
        "information_schema.columns WHERE table_name = 'customer_sessions' "
        "AND table_schema = current_schema()",
    ).split(",")


def _overrides(now_sql: str) -> dict[str, str]:
    return {
        "created_at": now_sql,
        "expires_at": f"{now_sql} + (t.expires_at - t.created_at)",
        "consumed_at": "NULL",
        "revoked_at": "NULL",
    }


def create_pg_pool(db_url: str, template_id: str, salt: str, first: int, count: int) -> None:
    """Insert rows ``first`` .. ``first + count - 1`` of a pool (one statement), then ANALYZE."""
    columns = _pg_columns(db_url)
    now = int(time.time() * 1000)
    values = {c: f"t.{c}" for c in columns} | _overrides(str(now))
    values["id"] = pg_id_sql(salt, "n")
    psql(
        db_url,
        f"INSERT INTO customer_sessions ({', '.join(columns)}) "
        f"SELECT {', '.join(values[c] for c in columns)} "
        f"FROM customer_sessions t, generate_series({first}, {first + count - 1}) AS n "
        f"WHERE t.id = '{template_id}'; ANALYZE customer_sessions",
    )


def create_sqlite_pool(db_path: Path, template_id: str, salt: str, first: int, count: int) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        cursor = conn.execute("SELECT * FROM customer_sessions WHERE id = ?", (template_id,))
        columns = [d[0] for d in cursor.description]
        row = cursor.fetchone()
        if row is None:
            raise BenchError(f"template session {template_id} not found in {db_path}")
        template = dict(zip(columns, row, strict=True))
        now = int(time.time() * 1000)
        template.update(
            created_at=now,
            expires_at=now + template["expires_at"] - template["created_at"],
            consumed_at=None,
            revoked_at=None,
        )
        sql = (
            f"INSERT INTO customer_sessions ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        rows = (
            [pool_id(salt, n) if c == "id" else template[c] for c in columns]
            for n in range(first, first + count)
        )
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()


def write_ids(path: Path, salt: str, first: int, count: int) -> None:
    path.write_text("".join(f"{pool_id(salt, n)}\n" for n in range(first, first + count)))


def write_secrets(
    path: Path, salt: str, first: int, count: int, *, secret_key: str, kid: str
) -> None:
    """The pool's client secrets, one a line (the file is removed with the run's data dir)."""
    from imprint_sessions.credentials import SecretBox

    box = SecretBox([secret_key.encode()])
    lines = []
    for n in range(first, first + count):
        secret = box.client_secret(pool_id(salt, n), kid)
        if secret is None:
            raise BenchError(f"the service's secret key id {kid} is not IMPRINT_SECRET_KEY's")
        lines.append(secret + "\n")
    path.write_text("".join(lines))
    path.chmod(0o600)
