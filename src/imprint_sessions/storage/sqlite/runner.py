"""The sqlite3 plumbing every SQLite repository shares: one connection per thread, atomic writes.

Each connection lives on its own thread, so the event loop never waits on the disk; a repository
method is one hop to that thread. WAL lets readers run beside the single writer; every write starts
with ``BEGIN IMMEDIATE`` so a read-then-write never upgrades its lock mid-transaction (the cause of
"database is locked"), and ``busy_timeout`` queues writers from other processes.

Within a process, writers take turns on an ``asyncio.Lock`` before they take a connection (and a
unit of work holds it to its end): SQLite's own wait for its write lock polls with sleeps of up
to 100 ms, so writers racing for it on several connections lost most of their time asleep
(BENCHMARKS.md, "Overload": throughput fell as connections rose, p99 near a second at 64).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.sql import Executor, Statement, drive

T = TypeVar("T")
log = logging.getLogger(__name__)
BUSY_TIMEOUT_MS = 10_000


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def atomic(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
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


class Handle:
    """One connection and the one thread allowed to touch it."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._path = path
        self._synchronous = synchronous
        self.conn: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            # In the caller's context (as asyncio.to_thread does): a statement's trace span, opened
            # on this thread, is then the child of the request's.
            context = contextvars.copy_context()
            return await loop.run_in_executor(self._executor, context.run, self._call, work)
        except sqlite3.OperationalError as exc:
            # Only contention is temporary; anything else (a missing table, a broken disk) is a
            # real fault and must surface as one.
            if "locked" in str(exc) or "busy" in str(exc):
                # The exact code tells a lock held past busy_timeout (SQLITE_BUSY) from a stale
                # snapshot (SQLITE_BUSY_SNAPSHOT), which no amount of waiting would have cured.
                log.warning(
                    "sqlite: %s, answered 503",
                    getattr(exc, "sqlite_errorname", "SQLITE_BUSY"),
                    extra={"sqlite_error": str(exc)},
                )
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


class Connection:
    """``sql.Executor`` over one connection, on its thread: each statement runs in place."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def one(self, statement: Statement, **params: Any) -> sqlite3.Row | None:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        row: sqlite3.Row | None = self._conn.execute(
            compiled.sql, compiled.mapping(params)
        ).fetchone()
        return row

    async def all(self, statement: Statement, **params: Any) -> list[sqlite3.Row]:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        return self._conn.execute(compiled.sql, compiled.mapping(params)).fetchall()

    async def count(self, statement: Statement, **params: Any) -> int:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        return self._conn.execute(compiled.sql, compiled.mapping(params)).rowcount


def in_place(work: Callable[[Executor], Awaitable[T]]) -> Callable[[sqlite3.Connection], T]:
    """``work`` as a function of the connection, run to its end on the connection's thread."""
    return lambda conn: drive(work(Connection(conn)))  # type: ignore[arg-type]


def _snapshot(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    if conn.in_transaction:
        return work(conn)
    conn.execute("BEGIN")  # deferred: a read snapshot, no write lock
    try:
        return work(conn)
    finally:
        conn.execute("COMMIT")


@contextlib.asynccontextmanager
async def write_turn(lock: asyncio.Lock) -> AsyncIterator[None]:
    """This process's turn to write, waited for as long as SQLite's own ``busy_timeout`` (then
    the same 503: a writer that never gets its turn is one stuck behind a wedged one)."""
    try:
        async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
    except TimeoutError:
        log.warning("sqlite: no turn to write within %d ms, answered 503", BUSY_TIMEOUT_MS)
        raise ServiceUnavailable("database: busy, try again") from None
    try:
        yield
    finally:
        lock.release()


class Handles:
    """The pool's connections, handed out in the order they were asked for.

    An ``asyncio.Queue`` of them would not be fair: a connection put back goes to whichever
    request asks next, and the waiter woken for it, finding it taken, goes to the back of the line
    (the same as asyncpg's: ``postgres.runner.FairPool``). A semaphore counts the free ones and
    asyncio's hands a released place straight to its longest waiter.
    """

    def __init__(self, handles: list[Handle]) -> None:
        self.all = tuple(handles)
        self._free = collections.deque(handles)  # in turn, as the queue it replaces took them
        self._turns = asyncio.Semaphore(len(handles))

    async def checkout(self, on_wait: Callable[[float], None] | None = None) -> Handle:
        """A free connection; ``on_wait`` is told how long it took (the pool-wait metric)."""
        started = time.perf_counter()
        try:
            await self._turns.acquire()
        finally:
            if on_wait is not None:
                on_wait(time.perf_counter() - started)
        return self._free.popleft()  # a place taken is a connection free: there is one

    def checkin(self, handle: Handle) -> None:
        self._free.append(handle)
        self._turns.release()

    def usage(self) -> tuple[int, int]:
        """Connections checked out, and how many there are."""
        return len(self.all) - len(self._free), len(self.all)


class Runner:
    """Implements ``sql.Runner``: one hop to a connection's thread per call; a write (and any
    ``transaction``) runs in ``BEGIN IMMEDIATE`` unless the unit of work's is open."""

    dialect = "sqlite"

    def __init__(
        self,
        pool: Handles,
        handle: Handle | None = None,
        *,
        write_lock: asyncio.Lock,
        on_pool_wait: Callable[[float], None] | None = None,
    ) -> None:
        self._pool = pool
        self._handle = handle  # a unit of work's: it holds the write lock already
        self._write_lock = write_lock
        self._on_pool_wait = on_pool_wait

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._handle is not None:
            return await self._handle.run(work)
        handle = await self._pool.checkout(self._on_pool_wait)
        try:
            return await handle.run(work)
        finally:
            self._pool.checkin(handle)

    async def read(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return await self.run(lambda conn: conn.execute(sql, args).fetchall())

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        # A unit of work's runner writes in the turn its unit of work already holds.
        turn = write_turn(self._write_lock) if self._handle is None else contextlib.nullcontext()
        async with turn:
            return await self.run(lambda conn: atomic(conn, work))

    async def one(self, statement: Statement, **params: Any) -> sqlite3.Row | None:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        sql, args = compiled.sql, compiled.mapping(params)
        if compiled.writes:
            return await self.write(lambda conn: conn.execute(sql, args).fetchone())
        return await self.run(lambda conn: conn.execute(sql, args).fetchone())

    async def all(self, statement: Statement, **params: Any) -> list[sqlite3.Row]:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        sql, args = compiled.sql, compiled.mapping(params)
        if compiled.writes:
            return await self.write(lambda conn: conn.execute(sql, args).fetchall())
        return await self.run(lambda conn: conn.execute(sql, args).fetchall())

    async def count(self, statement: Statement, **params: Any) -> int:
        compiled = statement.sqlite
        assert compiled is not None, "a PostgreSQL-only statement"
        sql, args = compiled.sql, compiled.mapping(params)
        return await self.write(lambda conn: conn.execute(sql, args).rowcount)

    async def transaction(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        return await self.write(in_place(work))

    async def ping(self) -> None:
        await self.read("SELECT 1")

    async def snapshot(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        run = in_place(work)
        return await self.run(lambda conn: _snapshot(conn, run))
