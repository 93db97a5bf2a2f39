"""The asyncpg plumbing every PostgreSQL repository shares: pooled or transactional execution."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from imprint_sessions.errors import ServiceUnavailable

T = TypeVar("T")

# Errors that mean "the database is unreachable or going away", not "the query is wrong".
UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)


class Runner:
    """Runs statements either on pooled connections (autocommit) or on one transaction's."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        acquire_timeout: float,
        connection: asyncpg.Connection | None = None,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._connection = connection

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        try:
            if self._connection is not None:
                return await work(self._connection)
            async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                return await work(connection)
        except UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc


class PgRepository:
    """Base of the per-resource repository mixins: statement helpers over one ``Runner``."""

    def __init__(self, runner: Runner) -> None:
        self._run = runner.run

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(lambda c: c.fetchrow(sql, *args))

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(lambda c: c.fetch(sql, *args))

    async def _execute(self, sql: str, *args: Any) -> str:
        return await self._run(lambda c: c.execute(sql, *args))
