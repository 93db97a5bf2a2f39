"""The migrations build exactly the schema ``storage/tables.py`` declares, on both backends."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from imprint_sessions.storage.tables import metadata
from imprint_sessions.storage.urls import backend


def _sync_url(database_url: str) -> str:
    if backend(database_url) == "postgresql":
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return database_url


def _schema_differences(database_url: str) -> list[Any]:
    engine = sa.create_engine(_sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrated_database_matches_the_declared_tables(database_url: str) -> None:
    assert _schema_differences(database_url) == []


def test_ssn_hash_index_holds_only_customers_with_an_ssn(database_url: str) -> None:
    """Partial (migration 0005): a NULL entry per customer made it a candidate for every lookup
    by partner, and a generic plan then scanned all of a partner's customers (BENCHMARKS.md)."""
    engine = sa.create_engine(_sync_url(database_url))
    try:
        with engine.connect() as connection:
            if backend(database_url) == "postgresql":
                definition = connection.execute(
                    sa.text(
                        "SELECT indexdef FROM pg_indexes "
                        "WHERE indexname = 'ix_customers_partner_id_ssn_hash'"
                    )
                ).scalar_one()
            else:
                definition = connection.execute(
                    sa.text(
                        "SELECT sql FROM sqlite_master "
                        "WHERE name = 'ix_customers_partner_id_ssn_hash'"
                    )
                ).scalar_one()
    finally:
        engine.dispose()
    assert "WHERE" in definition
    assert "ssn_hash IS NOT NULL" in definition
