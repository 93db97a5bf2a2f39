"""SQLite through the stdlib driver: the embedded default.

The repositories are ``store.SqlRepositories``, as on PostgreSQL; what is SQLite's is here and in
``runner.py``: the connections on their threads, transactions and how a statement is executed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from imprint_sessions.storage.sql import Runner as SqlRunner
from imprint_sessions.storage.sqlite.runner import Handle, Handles, Runner, write_turn
from imprint_sessions.storage.store import SqlRepositories


class SqliteUnitOfWork:
    def __init__(self, handle: Handle, repositories: SqlRepositories) -> None:
        self._handle = handle
        self.repositories = repositories
        self.committed = False

    async def commit(self) -> None:
        await self._handle.run(lambda c: c.execute("COMMIT"))
        self.committed = True


class SqliteDatabase:
    backend = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        pool_size: int,
        synchronous: str,
        wrap: Callable[[SqlRunner], SqlRunner] | None = None,
        on_pool_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.path = path
        self._pool = Handles([Handle(path, synchronous) for _ in range(pool_size)])
        self._wrap = wrap or (lambda runner: runner)
        self._on_pool_wait = on_pool_wait
        self._write_lock = asyncio.Lock()  # this process's writers, one at a time (runner.py)
        self.repositories = SqlRepositories(
            self._wrap(Runner(self._pool, write_lock=self._write_lock, on_pool_wait=on_pool_wait))
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteUnitOfWork]:
        """One ``BEGIN IMMEDIATE`` transaction, holding this process's write lock; leaving
        without ``commit()`` rolls it back."""
        async with write_turn(self._write_lock):
            handle = await self._pool.checkout(self._on_pool_wait)
            uow: SqliteUnitOfWork | None = None
            try:
                await handle.run(lambda c: c.execute("BEGIN IMMEDIATE"))
                runner = Runner(self._pool, handle, write_lock=self._write_lock)
                uow = SqliteUnitOfWork(handle, SqlRepositories(self._wrap(runner)))
                yield uow
            finally:
                try:
                    if uow is not None and not uow.committed:
                        await handle.run(lambda c: c.execute("ROLLBACK"))
                finally:
                    self._pool.checkin(handle)

    def pool_usage(self) -> tuple[int, int]:
        """Connections checked out of the pool, and the most it may hold."""
        return self._pool.usage()

    async def close(self) -> None:
        for handle in self._pool.all:
            await handle.close()
