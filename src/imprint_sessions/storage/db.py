"""Opening the configured database: the one entry point the edges use."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from imprint_sessions.config import Settings
from imprint_sessions.storage.postgres import PostgresDatabase
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.storage.sqlite import SqliteDatabase
from imprint_sessions.storage.traced import SpanFactory, wrapper
from imprint_sessions.storage.urls import backend, sqlite_path

SQLITE_POOL_SIZE = 4


class UnitOfWork(Protocol):
    """One transaction. The edge commits; leaving the block without ``commit()`` rolls back."""

    @property
    def repositories(self) -> Repositories: ...

    async def commit(self) -> None: ...


class Database(Protocol):
    @property
    def backend(self) -> str: ...

    @property
    def repositories(self) -> Repositories:
        """Each method atomic on its own (autocommit). The hot paths use these."""
        ...

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    def pool_usage(self) -> tuple[int, int]:
        """Connections checked out of this process's pool, and the most it may hold."""
        ...

    async def close(self) -> None: ...


async def open_database(
    settings: Settings,
    url: str | None = None,
    *,
    sql_spans: SpanFactory | None = None,
    on_pool_wait: Callable[[float], None] | None = None,
) -> Database:
    """``sql_spans``: trace every statement (tracing on); ``on_pool_wait``: told how long each
    wait for a pooled connection took (the service's metrics)."""
    url = url or settings.resolved_database_url
    wrap = wrapper(sql_spans) if sql_spans is not None else None
    if backend(url) == "postgresql":
        return await PostgresDatabase.open(
            url,
            pool_size=settings.db_pool_size,
            acquire_timeout=settings.db_pool_timeout_seconds,
            statement_timeout=settings.db_statement_timeout_seconds,
            wrap=wrap,
            on_pool_wait=on_pool_wait,
        )
    return SqliteDatabase(
        sqlite_path(url),
        pool_size=SQLITE_POOL_SIZE,
        synchronous=settings.sqlite_synchronous,
        wrap=wrap,
        on_pool_wait=on_pool_wait,
    )
