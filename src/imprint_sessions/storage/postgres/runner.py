"""The asyncpg plumbing every PostgreSQL repository shares: pooled or transactional execution."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.sql import Executor, Statement

T = TypeVar("T")

# Errors that mean "the database is unreachable or going away", not "the query is wrong": the
# connection was lost or refused (OSError, class 08), a statement or the pool wait ran out of time
# (TimeoutError, an OSError), the server is shutting down, restarting or cancelled the statement
# (class 57: AdminShutdown, CrashShutdown, CannotConnectNow, QueryCanceled), or it is full.
# InternalClientError ("cannot switch to state ...; another operation is in progress") is what a
# pooled connection whose backend was terminated while it sat idle raises on its next statement.
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)

# Retry-After on a 503 caused by the database: a restart or a failover is over in seconds, and a
# full pool frees up in milliseconds; one second lets clients come back soon without a stampede.
RETRY_AFTER_SECONDS = 1
# /readyz answers within about this long, however stuck the database is.
READINESS_TIMEOUT_SECONDS = 1.0


def unavailable(exc: BaseException, *, acquire_timeout: float | None = None) -> ServiceUnavailable:
    """The 503 for ``exc``, one of ``UNAVAILABLE``; ``acquire_timeout``: it came from the pool."""
    if acquire_timeout is not None and isinstance(exc, TimeoutError):
        detail = f"database: no connection available within {acquire_timeout:g} s"
    elif isinstance(exc, TimeoutError):
        detail = "database: did not answer in time"
    else:
        detail = "database: temporarily unavailable"
    return ServiceUnavailable(detail, retry_after=RETRY_AFTER_SECONDS)


def discard(connection: asyncpg.Connection) -> None:
    """Close a connection whose state is unknown (lost, or a statement timed out mid-flight).

    Handing it back to the pool would make the next request wait for its cancellation, or run
    on a dead socket; closed, the pool opens a fresh one on demand (a transaction it held is
    rolled back by the server with the connection).
    """
    if not is_closed(connection):
        connection.terminate()


def is_closed(connection: asyncpg.Connection) -> bool:
    """Closed, or already handed back to the pool by asyncpg because it closed."""
    try:
        return bool(connection.is_closed())
    except asyncpg.InterfaceError:  # "connection has been released back to the pool"
        return True


class FairPool:
    """asyncpg's pool, its connections handed out in the order they were asked for.

    asyncpg's own queue is not fair: a released connection goes to whichever request asks next,
    and the waiter woken for it, finding it taken, goes back to the end of the line. With 64
    requests sharing 16 connections that left some waiting for hundreds of milliseconds while
    newer ones went first (BENCHMARKS.md, "Fair turns for the pool"). A semaphore of the pool's
    size goes first: asyncio's hands a released place straight to its longest waiter, so the
    pool's own queue never has anyone waiting in it.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._turns = asyncio.Semaphore(pool.get_max_size())

    async def acquire(
        self, wait_seconds: float, on_wait: Callable[[float], None] | None = None
    ) -> asyncpg.Connection:
        """A pooled connection within ``wait_seconds`` (waiting and connecting), else a 503;
        ``on_wait`` is told how long it waited (the pool-wait metric), also when it gave up."""
        started = time.perf_counter() if on_wait is not None else 0.0
        try:
            async with asyncio.timeout(wait_seconds):
                await self._turns.acquire()
                try:
                    return await self.pool.acquire()
                except BaseException:
                    self._turns.release()
                    raise
        except UNAVAILABLE as exc:
            raise unavailable(exc, acquire_timeout=wait_seconds) from exc
        finally:
            if on_wait is not None:
                on_wait(time.perf_counter() - started)

    async def release(self, connection: asyncpg.Connection) -> None:
        try:
            await self.pool.release(connection)
        finally:
            self._turns.release()

    def usage(self) -> tuple[int, int]:
        """Connections checked out of the pool, and the most it may hold."""
        pool = self.pool
        return pool.get_size() - pool.get_idle_size(), pool.get_max_size()


async def guarded(
    connection: asyncpg.Connection, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """``work(connection)``; on a database failure the connection is discarded and it is a 503."""
    try:
        return await work(connection)
    except UNAVAILABLE as exc:
        discard(connection)
        raise unavailable(exc) from exc
    except asyncio.CancelledError:
        discard(connection)  # interrupted mid-statement (a deadline, a shutdown): state unknown
        raise


class Runner:
    """Runs statements either on pooled connections (autocommit) or on one transaction's.

    Implements ``sql.Runner``: a statement runs on its compiled ``$n`` text with positional
    arguments (``connection.fetchrow(sql, *args)``, exactly what asyncpg is given).

    Every statement is bounded by the pool's ``command_timeout`` (IMPRINT_DB_STATEMENT_TIMEOUT_
    SECONDS) and every wait for a connection by ``acquire_timeout``, so a stuck database costs a
    request at most about their sum before it is answered 503.
    """

    def __init__(
        self,
        pool: FairPool,
        acquire_timeout: float,
        connection: asyncpg.Connection | None = None,
        *,
        on_pool_wait: Callable[[float], None] | None = None,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._connection = connection
        self._on_pool_wait = on_pool_wait

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if self._connection is not None:
            return await guarded(self._connection, work)
        connection = await self._pool.acquire(self._acquire_timeout, self._on_pool_wait)
        try:
            return await guarded(connection, work)
        finally:
            await self._pool.release(connection)

    dialect = "postgresql"

    async def one(self, statement: Statement, **params: Any) -> asyncpg.Record | None:
        compiled = statement.postgresql
        args = compiled.args(params)
        return await self.run(lambda c: c.fetchrow(compiled.sql, *args))

    async def all(self, statement: Statement, **params: Any) -> list[asyncpg.Record]:
        compiled = statement.postgresql
        args = compiled.args(params)
        return await self.run(lambda c: c.fetch(compiled.sql, *args))

    async def count(self, statement: Statement, **params: Any) -> int:
        compiled = statement.postgresql
        args = compiled.args(params)
        status = await self.run(lambda c: c.execute(compiled.sql, *args))
        return int(status.rpartition(" ")[2])  # "UPDATE 3", "INSERT 0 1"

    async def transaction(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        if self._connection is not None:
            return await work(self)  # the unit of work's transaction

        async def in_transaction(connection: asyncpg.Connection) -> T:
            async with connection.transaction():
                return await work(Runner(self._pool, self._acquire_timeout, connection))

        return await self.run(in_transaction)

    async def snapshot(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        if self._connection is not None:
            return await work(self)
        return await self.run(
            lambda connection: work(Runner(self._pool, self._acquire_timeout, connection))
        )

    async def ping(self) -> None:
        """Readiness: 503 at once if every pooled connection is busy, else ``SELECT 1`` within
        ``READINESS_TIMEOUT_SECONDS`` (never the full acquire timeout: probes must be quick)."""
        pool = self._pool
        busy, size = pool.usage()
        if busy >= size:
            raise ServiceUnavailable(
                f"database: connection pool exhausted ({busy} of {size} connections in use)",
                retry_after=RETRY_AFTER_SECONDS,
            )
        timeout = min(READINESS_TIMEOUT_SECONDS, self._acquire_timeout)
        connection = await pool.acquire(timeout)
        try:
            await guarded(connection, lambda c: c.fetchval("SELECT 1", timeout=timeout))
        finally:
            await pool.release(connection)
