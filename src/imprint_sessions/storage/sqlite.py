"""SQLite through the stdlib driver: the embedded default.

Each connection lives on its own thread, so the event loop never waits on the disk; a repository
method is one hop to that thread. WAL lets readers run beside the single writer; every write starts
with ``BEGIN IMMEDIATE`` so a read-then-write never upgrades its lock mid-transaction (the cause of
"database is locked"), and ``busy_timeout`` queues writers from other processes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.records import (
    ApiKey,
    CreateOutcome,
    CustomerSession,
    NewCustomerSession,
    Partner,
    Principal,
)

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000

_SESSION_COLUMNS = (
    "id, partner_id, customer_id, secret_key_id, source, metadata AS metadata_json, "
    "created_at, expires_at, consumed_at, revoked_at"
)
_INSERT_CUSTOMER = (
    "INSERT INTO customers (id, partner_id, partner_customer_id, email, phone, first_name, "
    "last_name, preferred_language, address, account_history, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SESSION = (
    "INSERT INTO customer_sessions (id, partner_id, customer_id, merchant_key, secret_key_id, "
    "transaction_amount, transaction_currency, customer_history, source, metadata, created_at, "
    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _atomic(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in the open transaction, or in its own ``BEGIN IMMEDIATE`` one."""
    if conn.in_transaction:
        return work(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class _Handle:
    """One connection and the one thread allowed to touch it."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._path = path
        self._synchronous = synchronous
        self.conn: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, work)
        except sqlite3.OperationalError as exc:
            # Only contention is temporary; anything else (a missing table, a broken disk) is a
            # real fault and must surface as one.
            if "locked" in str(exc) or "busy" in str(exc):
                raise ServiceUnavailable("database: busy, try again") from exc
            raise

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self.conn is None:
            self.conn = connect(self._path, self._synchronous)
        return work(self.conn)

    async def close(self) -> None:
        def _close(conn: sqlite3.Connection) -> None:
            conn.close()

        if self.conn is not None:
            await self.run(_close)
        self._executor.shutdown(wait=True)


class _Runner:
    def __init__(self, pool: asyncio.Queue[_Handle], handle: _Handle | None = None) -> None:
        self._pool = pool
        self._handle = handle

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._handle is not None:
            return await self._handle.run(work)
        handle = await self._pool.get()
        try:
            return await handle.run(work)
        finally:
            self._pool.put_nowait(handle)

    async def read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return await self.run(lambda conn: conn.execute(sql, args).fetchall())

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self.run(lambda conn: _atomic(conn, work))


class SqliteRepositories:
    """stdlib sqlite3 implementation of ``repositories.Repositories``."""

    def __init__(self, runner: _Runner) -> None:
        self._runner = runner

    # -- partners and keys --------------------------------------------------------------------
    async def create_partner(self, partner: Partner) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "INSERT INTO partners (id, name, merchant_keys, created_at) VALUES (?, ?, ?, ?)",
                (
                    partner.id,
                    partner.name,
                    json.dumps(list(partner.merchant_keys)),
                    partner.created_at,
                ),
            )
        )

    async def get_partner(self, partner_id: str) -> Partner | None:
        rows = await self._runner.read(
            "SELECT id, name, merchant_keys, created_at FROM partners WHERE id = ?", partner_id
        )
        return _partner(rows[0]) if rows else None

    async def list_partners(self) -> list[Partner]:
        rows = await self._runner.read(
            "SELECT id, name, merchant_keys, created_at FROM partners ORDER BY created_at, id"
        )
        return [_partner(r) for r in rows]

    async def create_api_key(self, api_key: ApiKey, *, key_hash: str, secret_key_id: str) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "INSERT INTO api_keys (id, partner_id, key_hash, display_prefix, secret_key_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    api_key.id,
                    api_key.partner_id,
                    key_hash,
                    api_key.display_prefix,
                    secret_key_id,
                    api_key.created_at,
                ),
            )
        )

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]:
        rows = await self._runner.read(
            "SELECT id, partner_id, display_prefix, created_at, revoked_at FROM api_keys "
            "WHERE partner_id = ? ORDER BY created_at, id",
            partner_id,
        )
        return [ApiKey(**dict(r)) for r in rows]

    async def revoke_api_key(self, api_key_id: str, *, at: int) -> bool:
        cursor = await self._runner.write(
            lambda c: c.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, api_key_id),
            )
        )
        return cursor.rowcount == 1

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None:
        marks = ", ".join("?" * len(key_hashes))
        rows = await self._runner.read(
            "SELECT k.id AS api_key_id, k.partner_id, p.merchant_keys FROM api_keys k "
            f"JOIN partners p ON p.id = k.partner_id WHERE k.key_hash IN ({marks}) "
            "AND k.revoked_at IS NULL",
            *key_hashes,
        )
        if not rows:
            return None
        row = rows[0]
        return Principal(
            api_key_id=row["api_key_id"],
            partner_id=row["partner_id"],
            merchant_keys=tuple(json.loads(row["merchant_keys"])),
        )

    # -- customer sessions --------------------------------------------------------------------
    async def create_customer_session(self, new: NewCustomerSession) -> CreateOutcome:
        return await self._runner.write(lambda c: _create_customer_session(c, new))

    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None:
        rows = await self._runner.read(
            f"SELECT {_SESSION_COLUMNS} FROM customer_sessions WHERE id = ? AND partner_id = ?",
            customer_session_id,
            partner_id,
        )
        return CustomerSession(**dict(rows[0])) if rows else None

    async def ping(self) -> None:
        await self._runner.read("SELECT 1")


def _create_customer_session(conn: sqlite3.Connection, new: NewCustomerSession) -> CreateOutcome:
    """Find or create the customer and insert the session, inside ``BEGIN IMMEDIATE``."""
    customer_id: str
    if new.customer_id is not None:
        row = conn.execute(
            "SELECT partner_customer_id FROM customers WHERE id = ? AND partner_id = ?",
            (new.customer_id, new.partner_id),
        ).fetchone()
        if row is None:
            return CreateOutcome.CUSTOMER_NOT_FOUND
        if new.partner_customer_id is not None and row[0] != new.partner_customer_id:
            return CreateOutcome.CUSTOMER_MISMATCH
        customer_id = new.customer_id
    else:
        row = None
        if new.partner_customer_id is not None:
            row = conn.execute(
                "SELECT id FROM customers WHERE partner_id = ? AND partner_customer_id = ?",
                (new.partner_id, new.partner_customer_id),
            ).fetchone()
        if row is not None:
            customer_id = row[0]
        else:
            c = new.new_customer
            customer_id = c.id
            conn.execute(
                _INSERT_CUSTOMER,
                (
                    c.id,
                    new.partner_id,
                    new.partner_customer_id,
                    c.email,
                    c.phone,
                    c.first_name,
                    c.last_name,
                    c.preferred_language,
                    c.address_json,
                    c.account_history_json,
                    new.created_at,
                    new.created_at,
                ),
            )
    conn.execute(
        _INSERT_SESSION,
        (
            new.id,
            new.partner_id,
            customer_id,
            new.merchant_key,
            new.secret_key_id,
            new.transaction_amount,
            new.transaction_currency,
            new.customer_history_json,
            new.source,
            new.metadata_json,
            new.created_at,
            new.expires_at,
        ),
    )
    return CreateOutcome.CREATED


def _partner(row: sqlite3.Row) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        merchant_keys=tuple(json.loads(row["merchant_keys"])),
        created_at=row["created_at"],
    )


class SqliteUnitOfWork:
    def __init__(self, handle: _Handle, repositories: SqliteRepositories) -> None:
        self._handle = handle
        self.repositories = repositories
        self.committed = False

    async def commit(self) -> None:
        await self._handle.run(lambda c: c.execute("COMMIT"))
        self.committed = True


class SqliteDatabase:
    backend = "sqlite"

    def __init__(self, path: Path, *, pool_size: int, synchronous: str) -> None:
        self.path = path
        self._pool: asyncio.Queue[_Handle] = asyncio.Queue()
        self._handles = [_Handle(path, synchronous) for _ in range(pool_size)]
        for handle in self._handles:
            self._pool.put_nowait(handle)
        self.repositories = SqliteRepositories(_Runner(self._pool))

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteUnitOfWork]:
        """One ``BEGIN IMMEDIATE`` transaction; leaving without ``commit()`` rolls it back."""
        handle = await self._pool.get()
        uow: SqliteUnitOfWork | None = None
        try:
            await handle.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            uow = SqliteUnitOfWork(handle, SqliteRepositories(_Runner(self._pool, handle)))
            yield uow
        finally:
            try:
                if uow is not None and not uow.committed:
                    await handle.run(lambda c: c.execute("ROLLBACK"))
            finally:
                self._pool.put_nowait(handle)

    async def close(self) -> None:
        for handle in self._handles:
            await handle.close()
