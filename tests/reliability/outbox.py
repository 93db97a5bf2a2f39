"""Test cleanup: retire a test partner's pending webhook deliveries so no later drain sends them."""

from __future__ import annotations


def retire_deliveries(database_url: str, partner_id: str) -> None:
    """Mark the partner's pending deliveries dead. PostgreSQL is shared by the whole run, and a
    later test's worker drains every pending delivery it finds (and may count them)."""
    sql = (
        "UPDATE webhook_deliveries SET status = 'dead' WHERE partner_id = ? AND status = 'pending'"
    )
    if database_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database_url) as conn:
            conn.execute(sql.replace("?", "%s"), (partner_id,))
        return
    import sqlite3

    lite = sqlite3.connect(database_url.split(":///", 1)[1])
    try:
        with lite:
            lite.execute(sql, (partner_id,))
    finally:
        lite.close()
