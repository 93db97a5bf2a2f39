"""Runs last: no credential the suite issued appears in any log line or any database it wrote.

Collected after every other directory (``zz_``), it scans what the whole run left behind: the
JSON log lines of the in-process app (at DEBUG, access log on), the stderr of every server and CLI
process the end-to-end tests started, and a full dump of every SQLite and PostgreSQL database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from conftest import PG_ADMIN_URL, LeakRegistry


def sqlite_dump(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def postgres_dump(url: str) -> str:
    import psycopg

    lines: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            lines.extend(row[0] for row in rows)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def dumps(leak_registry: LeakRegistry) -> Iterator[dict[str, str]]:
    found = {str(p): sqlite_dump(str(p)) for p in leak_registry.sqlite_paths if p.exists()}
    found.update({url: postgres_dump(url) for url in leak_registry.pg_urls})
    yield found
    # The end-to-end tests' PostgreSQL databases were kept for this dump; drop them now.
    if PG_ADMIN_URL:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for url in leak_registry.pg_urls:
                name = url.rpartition("/")[2]
                if name.startswith("imprint_e2e_"):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_suite_issued_credentials_and_wrote_logs(leak_registry: LeakRegistry) -> None:
    """Guards the sweep itself: with nothing collected it would pass vacuously."""
    assert len(leak_registry.issued) >= 100
    assert any(c.startswith("isk_test_") for c in leak_registry.issued)
    assert any(c.startswith("ics_") for c in leak_registry.issued)
    assert leak_registry.logs().count("\n") > 1000
    assert "imprint_sessions.access" in leak_registry.logs()


def test_no_issued_credential_appears_in_any_log_line(leak_registry: LeakRegistry) -> None:
    logs = leak_registry.logs()
    leaked = sorted(
        {
            credential[:8]
            for credential in leak_registry.issued
            for form in leak_registry.forms(credential)
            if form in logs
        }
    )
    assert leaked == [], f"{len(leaked)} credentials leaked into logs (prefixes: {leaked[:5]})"


def test_no_issued_credential_appears_in_any_database_dump(
    leak_registry: LeakRegistry, dumps: dict[str, str]
) -> None:
    assert dumps, "no database was registered for the sweep"
    everything = "\n".join(dumps.values())
    assert everything.count("\n") > 1000, "the dumps hold too little to prove anything"
    leaked = sorted(
        {
            credential[:8]
            for credential in leak_registry.issued
            for form in leak_registry.forms(credential)
            if form in everything
        }
    )
    assert leaked == [], f"{len(leaked)} credentials found in database dumps: {leaked[:5]}"


def test_the_sweep_finds_a_planted_credential(leak_registry: LeakRegistry) -> None:
    """Negative control: the same matching does see a credential when one is there."""
    planted = next(c for c in leak_registry.issued if c.startswith("ics_"))
    haystack = leak_registry.logs() + "\nplanted " + leak_registry.forms(planted)[2]
    assert any(form in haystack for form in leak_registry.forms(planted))
