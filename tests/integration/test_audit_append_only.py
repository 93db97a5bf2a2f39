"""The audit trail is append-only in the schema itself: on both databases a trigger refuses
every UPDATE and DELETE of an entry (and PostgreSQL's TRUNCATE), whoever sends it. Its partner
has no foreign key, so a deleted partner's trail stays."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from client_api.flow import execute

from conftest import DatabaseInspector, Harness
from imprint_sessions.credentials import new_id
from imprint_sessions.domain import audit
from imprint_sessions.storage.records import AuditQuery
from imprint_sessions.storage.urls import backend

REFUSALS = [
    "UPDATE audit_events SET type = 'api_key.revoked' WHERE partner_id = ?",
    "UPDATE audit_events SET details = '{}'",
    "DELETE FROM audit_events WHERE partner_id = ?",
    "DELETE FROM audit_events",
]


def _refused(database_url: str, sql: str, *params: str) -> str:
    """The error the database answers ``sql`` with (the test fails if it is accepted)."""
    if backend(database_url) == "postgresql":
        import psycopg

        with pytest.raises(psycopg.errors.RaiseException) as raised:
            execute(database_url, sql, *params)
        return str(raised.value)
    with pytest.raises(sqlite3.IntegrityError) as refused:
        execute(database_url, sql, *params)
    return str(refused.value)


@pytest.mark.parametrize("sql", REFUSALS)
async def test_an_entry_can_be_neither_changed_nor_deleted(
    harness: Harness, inspector: DatabaseInspector, database_url: str, sql: str
) -> None:
    partner_id, _ = await harness.new_partner()  # its first key: one entry
    stored = inspector.scalar("SELECT type FROM audit_events WHERE partner_id = ?", partner_id)
    assert stored == "api_key.created"
    params = (partner_id,) if "?" in sql else ()
    assert "audit_events is append-only" in _refused(database_url, sql, *params)
    assert inspector.count("audit_events", partner_id) == 1
    assert inspector.scalar("SELECT type FROM audit_events WHERE partner_id = ?", partner_id) == (
        "api_key.created"
    )


def test_postgresql_refuses_to_truncate_the_trail(pg_database_url: str) -> None:
    """SQLite has no TRUNCATE (its DELETE without WHERE is refused above)."""
    partner_id = new_id()
    execute(
        pg_database_url,
        "INSERT INTO audit_events (id, partner_id, type, actor_type, object_type, object_id, "
        "details, created_at) VALUES (?, ?, 'api_key.created', 'system', 'api_key', ?, '{}', 1)",
        new_id(),
        partner_id,
        new_id(),
    )
    assert "TRUNCATE refused" in _refused(pg_database_url, "TRUNCATE audit_events")
    assert DatabaseInspector(pg_database_url).count("audit_events", partner_id) == 1


def test_the_trail_has_no_foreign_key(database_url: str) -> None:
    sync_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(sync_url)
    try:
        assert sa.inspect(engine).get_foreign_keys("audit_events") == []
    finally:
        engine.dispose()


async def test_a_deleted_partners_trail_stays_and_is_exported(
    harness: Harness, inspector: DatabaseInspector, database_url: str
) -> None:
    """A throwaway sandbox partner deleted with its key: its trail is still there, whole."""
    partner_id, _ = await harness.new_partner()
    execute(database_url, "DELETE FROM api_keys WHERE partner_id = ?", partner_id)
    execute(database_url, "DELETE FROM partners WHERE id = ?", partner_id)
    assert inspector.scalar("SELECT count(*) FROM partners WHERE id = ?", partner_id) == 0
    exported = [
        event
        async for event in audit.export_audit_events(
            harness.services.database.repositories, partner_id=partner_id, query=AuditQuery()
        )
    ]
    assert [(e.type, e.partner_id) for e in exported] == [("api_key.created", partner_id)]
