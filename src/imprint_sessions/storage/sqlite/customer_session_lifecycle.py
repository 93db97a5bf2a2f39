"""A customer's sessions on SQLite as its partner lists and expires them."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import CustomerSession, Page, PageRequest
from imprint_sessions.storage.sqlite.paging import eq, fetch_page
from imprint_sessions.storage.sqlite.runner import LiteRepository

_COLUMNS = (
    "id, partner_id, customer_id, secret_key_id, source, metadata AS metadata_json, "
    "created_at, expires_at, consumed_at, revoked_at"
)


def _session(row: sqlite3.Row) -> CustomerSession:
    return CustomerSession(**dict(row))


class LiteCustomerSessionLifecycle(LiteRepository):
    async def list_sessions_of_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[CustomerSession] | None:
        raw = await self._runner.run(
            lambda c: fetch_page(
                c,
                table="customer_sessions",
                columns=_COLUMNS,
                scope=[eq("partner_id", partner_id), eq("customer_id", customer_id)],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(_session)

    async def revoke_partner_customer_session(
        self, partner_id: str, customer_session_id: str, *, now: int
    ) -> CustomerSession | None:
        def revoke(conn: sqlite3.Connection) -> CustomerSession | None:
            conn.execute(
                "UPDATE customer_sessions SET revoked_at = ? WHERE id = ? AND partner_id = ? "
                "AND revoked_at IS NULL AND expires_at > ?",
                (now, customer_session_id, partner_id, now),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM customer_sessions WHERE id = ? AND partner_id = ?",
                (customer_session_id, partner_id),
            ).fetchone()
            return _session(row) if row else None

        return await self._runner.write(revoke)
