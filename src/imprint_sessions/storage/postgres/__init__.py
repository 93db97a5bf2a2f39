"""PostgreSQL through an asyncpg pool: the production store.

The repositories are ``store.SqlRepositories``, as on SQLite; what is PostgreSQL's is here and in
``runner.py``: the pool, its connections, transactions and how a statement is executed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from imprint_sessions.storage.postgres.runner import (
    UNAVAILABLE,
    FairPool,
    Runner,
    discard,
    guarded,
    is_closed,
)
from imprint_sessions.storage.sql import Runner as SqlRunner
from imprint_sessions.storage.store import SqlRepositories
from imprint_sessions.storage.urls import asyncpg_dsn

log = logging.getLogger(__name__)


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to undo.

    asyncpg's default reset (``RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()``) is
    one more round trip on every release, i.e. on every request. This code never changes session
    state (no SET, LISTEN, cursors or session-level advisory locks; its advisory locks are
    transaction-scoped), and asyncpg still rolls back an open transaction before calling this.
    """


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection, repositories: SqlRepositories) -> None:
        self._connection = connection
        self.repositories = repositories
        self.committed = False

    async def commit(self) -> None:
        # A COMMIT that fails or times out may or may not have committed: it is a 503 either way
        # (never a 200 for what may be lost), and the client retries with its Idempotency-Key.
        await guarded(self._connection, lambda c: c.execute("COMMIT"))
        self.committed = True


class PostgresDatabase:
    backend = "postgresql"

    def __init__(
        self,
        pool: asyncpg.Pool,
        acquire_timeout: float,
        *,
        wrap: Callable[[SqlRunner], SqlRunner] | None = None,
        on_pool_wait: Callable[[float], None] | None = None,
    ) -> None:
        self._pool = FairPool(pool)
        self._acquire_timeout = acquire_timeout
        self._wrap = wrap or (lambda runner: runner)
        self._on_pool_wait = on_pool_wait
        self.repositories = SqlRepositories(
            self._wrap(Runner(self._pool, acquire_timeout, on_pool_wait=on_pool_wait))
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        pool_size: int,
        acquire_timeout: float,
        statement_timeout: float,
        wrap: Callable[[SqlRunner], SqlRunner] | None = None,
        on_pool_wait: Callable[[float], None] | None = None,
    ) -> PostgresDatabase:
        """``statement_timeout`` bounds every statement (and opening a connection): a database
        that stops answering costs a request that long, then a 503, never a hang."""

        async def create_pool(min_size: int) -> asyncpg.Pool:
            return await asyncpg.create_pool(
                asyncpg_dsn(url),
                min_size=min_size,
                max_size=pool_size,
                max_inactive_connection_lifetime=60.0,
                command_timeout=statement_timeout,
                timeout=statement_timeout,
                reset=_keep_session_state,
            )

        try:
            pool = await create_pool(min(2, pool_size))
        except UNAVAILABLE as exc:
            # Start anyway, connecting on demand: every request (and /readyz) is a 503 until the
            # database is back. A worker that uvicorn replaces during an outage must not fail its
            # start-up, or the supervisor stops the whole server for good.
            log.warning(
                "database unreachable at start-up (%s): answering 503 until it is back",
                type(exc).__name__,
            )
            pool = await create_pool(0)
        return cls(pool, acquire_timeout, wrap=wrap, on_pool_wait=on_pool_wait)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        """One transaction; leaving the block without ``commit()`` rolls it back.

        A lost or stuck connection at BEGIN, COMMIT or any statement is a 503 and the connection
        is discarded; a ROLLBACK that fails discards it too (the server then rolls back), so a
        failed rollback never replaces the error that caused it.
        """
        connection = await self._pool.acquire(self._acquire_timeout, self._on_pool_wait)
        uow: PostgresUnitOfWork | None = None
        try:
            await guarded(connection, lambda c: c.execute("BEGIN"))
            uow = PostgresUnitOfWork(
                connection,
                SqlRepositories(self._wrap(Runner(self._pool, self._acquire_timeout, connection))),
            )
            yield uow
        finally:
            try:
                if uow is not None and not uow.committed and not is_closed(connection):
                    try:
                        await connection.execute("ROLLBACK")
                    except Exception:
                        log.warning("ROLLBACK failed; connection discarded", exc_info=True)
                        discard(connection)
            finally:
                await self._pool.release(connection)

    def pool_usage(self) -> tuple[int, int]:
        """Connections checked out of the pool, and the most it may hold."""
        return self._pool.usage()

    async def close(self) -> None:
        await self._pool.pool.close()
