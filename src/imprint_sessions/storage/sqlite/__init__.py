"""SQLite through the stdlib driver: the embedded default.

``SqliteRepositories`` is composed of one mixin per resource (``partners.py``,
``customer_sessions.py``, ...), all sharing ``runner.Runner``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from imprint_sessions.storage.api_keys import PartnerApiKeys
from imprint_sessions.storage.applications import Applications
from imprint_sessions.storage.client import ClientSessions
from imprint_sessions.storage.customer_session_lifecycle import CustomerSessionLifecycle
from imprint_sessions.storage.customer_sessions import CustomerSessions
from imprint_sessions.storage.customers import PartnerCustomers
from imprint_sessions.storage.hosted import HostedPage
from imprint_sessions.storage.idempotency import Idempotency
from imprint_sessions.storage.otp import Otp
from imprint_sessions.storage.partners import Partners
from imprint_sessions.storage.payment_methods import PaymentMethods
from imprint_sessions.storage.profiles import Profiles
from imprint_sessions.storage.sqlite.runner import Handle, Runner
from imprint_sessions.storage.sqlite.webhooks import LiteWebhooks


class SqliteRepositories(
    Partners,
    CustomerSessions,
    PartnerCustomers,
    CustomerSessionLifecycle,
    PartnerApiKeys,
    Idempotency,
    ClientSessions,
    Profiles,
    Otp,
    Applications,
    PaymentMethods,
    HostedPage,
    LiteWebhooks,
):
    """stdlib sqlite3 implementation of ``repositories.Repositories``."""

    async def ping(self) -> None:
        await self._runner.read("SELECT 1")


class SqliteUnitOfWork:
    def __init__(self, handle: Handle, repositories: SqliteRepositories) -> None:
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
        self._pool: asyncio.Queue[Handle] = asyncio.Queue()
        self._handles = [Handle(path, synchronous) for _ in range(pool_size)]
        for handle in self._handles:
            self._pool.put_nowait(handle)
        self.repositories = SqliteRepositories(Runner(self._pool))

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteUnitOfWork]:
        """One ``BEGIN IMMEDIATE`` transaction; leaving without ``commit()`` rolls it back."""
        handle = await self._pool.get()
        uow: SqliteUnitOfWork | None = None
        try:
            await handle.run(lambda c: c.execute("BEGIN IMMEDIATE"))
            uow = SqliteUnitOfWork(handle, SqliteRepositories(Runner(self._pool, handle)))
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
