"""Card and loan applications on SQLite; every state change is one conditional UPDATE."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import Application
from imprint_sessions.storage.sqlite.runner import LiteRepository

# The payment method an accepted application created, found through the customer's index.
_COLUMNS = """a.id AS id, a.partner_id AS partner_id, a.customer_id AS customer_id,
    a.customer_session_id AS customer_session_id, a.merchant_key, a.type, a.status, a.phone,
    a.input AS input_json, a.customer_history AS customer_history_json, a.offer AS offer_json,
    a.decision_reason, a.created_at, a.updated_at, a.decided_at,
    (SELECT pm.id FROM payment_methods pm
     WHERE pm.customer_id = a.customer_id AND pm.application_id = a.id
     ORDER BY pm.created_at LIMIT 1) AS payment_method_id"""

_INSERT = """
INSERT INTO applications (id, partner_id, customer_id, customer_session_id, merchant_key, type,
    status, phone, input, customer_history, offer, decision_reason, created_at, updated_at,
    decided_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


class LiteApplications(LiteRepository):
    async def lock_applications_for_phone(self, partner_id: str, phone: str) -> None:
        """Nothing to do: a unit of work on SQLite starts ``BEGIN IMMEDIATE``, which already holds
        the database's one write lock until it ends."""

    async def insert_application(self, application: Application) -> None:
        a = application
        args = (
            a.id,
            a.partner_id,
            a.customer_id,
            a.customer_session_id,
            a.merchant_key,
            a.type,
            a.status,
            a.phone,
            a.input_json,
            a.customer_history_json,
            a.offer_json,
            a.decision_reason,
            a.created_at,
            a.updated_at,
            a.decided_at,
        )
        await self._runner.write(lambda c: c.execute(_INSERT, args))

    async def _one(self, where: str, *args: object) -> Application | None:
        rows = await self._runner.read(f"SELECT {_COLUMNS} FROM applications a {where}", *args)
        return Application(**dict(rows[0])) if rows else None

    async def get_application(self, application_id: str, *, customer_id: str) -> Application | None:
        return await self._one("WHERE a.id = ? AND a.customer_id = ?", application_id, customer_id)

    async def get_latest_application(self, customer_id: str) -> Application | None:
        return await self._one(
            "WHERE a.customer_id = ? ORDER BY a.created_at DESC, a.id DESC LIMIT 1", customer_id
        )

    async def find_unfinished_application(self, partner_id: str, phone: str) -> Application | None:
        return await self._one(
            "WHERE a.partner_id = ? AND a.phone = ? AND a.status = 'APPROVED' "
            "ORDER BY a.created_at DESC, a.id DESC LIMIT 1",
            partner_id,
            phone,
        )

    async def _update(self, sql: str, args: tuple[object, ...]) -> Application | None:
        """One conditional UPDATE ... RETURNING id, then the row as the API reads it."""

        def work(conn: sqlite3.Connection) -> Application | None:
            updated = conn.execute(sql, args).fetchone()
            if updated is None:
                return None
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM applications a WHERE a.id = ?", (updated[0],)
            ).fetchone()
            return Application(**dict(row))

        return await self._runner.write(work)

    async def reattach_application(
        self, application_id: str, *, customer_id: str, customer_session_id: str, now: int
    ) -> Application | None:
        return await self._update(
            "UPDATE applications SET customer_id = ?, customer_session_id = ?, updated_at = ? "
            "WHERE id = ? AND status = 'APPROVED' RETURNING id",
            (customer_id, customer_session_id, now, application_id),
        )

    async def accept_offer(
        self, application_id: str, *, customer_id: str, now: int
    ) -> Application | None:
        return await self._update(
            "UPDATE applications SET status = 'OFFER_ACCEPTED', updated_at = ? "
            "WHERE id = ? AND customer_id = ? AND status = 'APPROVED' RETURNING id",
            (now, application_id, customer_id),
        )

    async def open_customer_program(self, customer_id: str, program: str, *, now: int) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "UPDATE customers SET statuses = json_patch(statuses, json_object(?, 'OPEN')), "
                "updated_at = ? WHERE id = ?",
                (program, now, customer_id),
            )
        )
