"""Alembic environment: runs migrations on SQLite (pysqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from imprint_sessions.storage.tables import metadata

# An arbitrary constant: concurrent `db upgrade` runs on PostgreSQL queue behind this lock.
_MIGRATION_LOCK = 7_164_325_001


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    if url.startswith("postgresql+asyncpg"):
        asyncio.run(_run_async(url))
        return
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


run_migrations_online()
