"""PostgreSQL through an asyncpg pool: the production store.

``PostgresRepositories`` is composed of one mixin per resource (``partners.py``,
``customer_sessions.py``, ...), all sharing ``runner.Runner``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.postgres.api_keys import PgPartnerApiKeys
from imprint_sessions.storage.postgres.applications import PgApplications
from imprint_sessions.storage.postgres.client import PgClientSessions
from imprint_sessions.storage.postgres.customer_session_lifecycle import PgCustomerSessionLifecycle
from imprint_sessions.storage.postgres.customer_sessions import PgCustomerSessions
from imprint_sessions.storage.postgres.customers import PgPartnerCustomers
from imprint_sessions.storage.postgres.hosted import PgHostedPage
from imprint_sessions.storage.postgres.idempotency import PgIdempotency
from imprint_sessions.storage.postgres.otp import PgOtp
from imprint_sessions.storage.postgres.partners import PgPartners
from imprint_sessions.storage.postgres.payment_methods import PgPaymentMethods
from imprint_sessions.storage.postgres.profiles import PgProfiles
from imprint_sessions.storage.postgres.runner import UNAVAILABLE, Runner
from imprint_sessions.storage.postgres.webhooks import PgWebhooks
from imprint_sessions.storage.urls import asyncpg_dsn


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """The pool's reset hook: nothing to undo.

    asyncpg's default reset (``RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()``) is
    one more round trip on every release, i.e. on every request. This code never changes session
    state (no SET, LISTEN, cursors or session-level advisory locks; its advisory locks are
    transaction-scoped), and asyncpg still rolls back an open transaction before calling this.
    """


class PostgresRepositories(
    PgPartners,
    PgCustomerSessions,
    PgPartnerCustomers,
    PgCustomerSessionLifecycle,
    PgPartnerApiKeys,
    PgIdempotency,
    PgClientSessions,
    PgProfiles,
    PgOtp,
    PgApplications,
    PgPaymentMethods,
    PgHostedPage,
    PgWebhooks,
):
    """asyncpg implementation of ``repositories.Repositories``."""

    async def ping(self) -> None:
        await self._fetchrow("SELECT 1")


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection, repositories: PostgresRepositories) -> None:
        self._connection = connection
        self.repositories = repositories
        self.committed = False

    async def commit(self) -> None:
        try:
            await self._connection.execute("COMMIT")
        except UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc
        self.committed = True


class PostgresDatabase:
    backend = "postgresql"

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self.repositories = PostgresRepositories(Runner(pool, acquire_timeout))

    @classmethod
    async def open(cls, url: str, *, pool_size: int, acquire_timeout: float) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(url),
                min_size=min(2, pool_size),
                max_size=pool_size,
                max_inactive_connection_lifetime=60.0,
                command_timeout=30.0,
                reset=_keep_session_state,
            )
        except UNAVAILABLE as exc:
            raise ServiceUnavailable("database: unreachable at start-up") from exc
        return cls(pool, acquire_timeout)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        """One transaction; leaving the block without ``commit()`` rolls it back."""
        try:
            connection = await self._pool.acquire(timeout=self._acquire_timeout)
        except UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc
        uow: PostgresUnitOfWork | None = None
        try:
            await connection.execute("BEGIN")
            uow = PostgresUnitOfWork(
                connection,
                PostgresRepositories(Runner(self._pool, self._acquire_timeout, connection)),
            )
            yield uow
        finally:
            try:
                if uow is not None and not uow.committed and not connection.is_closed():
                    await connection.execute("ROLLBACK")
            finally:
                await self._pool.release(connection)

    async def close(self) -> None:
        await self._pool.close()
