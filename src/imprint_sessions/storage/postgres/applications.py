"""Card and loan applications on PostgreSQL; every state change is one conditional UPDATE."""

from __future__ import annotations

import asyncpg

from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import Application

# The payment method an accepted application created, found through the customer's index.
_COLUMNS = """upper(a.id::text) AS id, upper(a.partner_id::text) AS partner_id,
    upper(a.customer_id::text) AS customer_id,
    upper(a.customer_session_id::text) AS customer_session_id, a.merchant_key, a.type,
    a.status, a.phone, a.input AS input_json, a.customer_history AS customer_history_json,
    a.offer AS offer_json, a.decision_reason, a.created_at, a.updated_at, a.decided_at,
    (SELECT upper(pm.id::text) FROM payment_methods pm
     WHERE pm.customer_id = a.customer_id AND pm.application_id = a.id
     ORDER BY pm.created_at LIMIT 1) AS payment_method_id"""

_INSERT = """
INSERT INTO applications (id, partner_id, customer_id, customer_session_id, merchant_key, type,
    status, phone, input, customer_history, offer, decision_reason, created_at, updated_at,
    decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""


class PgApplications(PgRepository):
    async def lock_applications_for_phone(self, partner_id: str, phone: str) -> None:
        # A transaction-scoped advisory lock on (partner, phone): released at COMMIT/ROLLBACK.
        await self._execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 0))",
            partner_id,
            phone,
        )

    async def insert_application(self, application: Application) -> None:
        a = application
        await self._execute(
            _INSERT,
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

    async def get_application(self, application_id: str, *, customer_id: str) -> Application | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM applications a WHERE a.id = $1 AND a.customer_id = $2",
            application_id,
            customer_id,
        )
        return _application(row) if row else None

    async def get_latest_application(self, customer_id: str) -> Application | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM applications a WHERE a.customer_id = $1 "
            "ORDER BY a.created_at DESC, a.id DESC LIMIT 1",
            customer_id,
        )
        return _application(row) if row else None

    async def find_unfinished_application(self, partner_id: str, phone: str) -> Application | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM applications a "
            "WHERE a.partner_id = $1 AND a.phone = $2 AND a.status = 'APPROVED' "
            "ORDER BY a.created_at DESC, a.id DESC LIMIT 1",
            partner_id,
            phone,
        )
        return _application(row) if row else None

    async def reattach_application(
        self, application_id: str, *, customer_id: str, customer_session_id: str, now: int
    ) -> Application | None:
        row = await self._fetchrow(
            "UPDATE applications a SET customer_id = $2, customer_session_id = $3, "
            "updated_at = $4 WHERE a.id = $1 AND a.status = 'APPROVED' "
            f"RETURNING {_COLUMNS}",
            application_id,
            customer_id,
            customer_session_id,
            now,
        )
        return _application(row) if row else None

    async def accept_offer(
        self, application_id: str, *, customer_id: str, now: int
    ) -> Application | None:
        row = await self._fetchrow(
            "UPDATE applications a SET status = 'OFFER_ACCEPTED', updated_at = $3 "
            "WHERE a.id = $1 AND a.customer_id = $2 AND a.status = 'APPROVED' "
            f"RETURNING {_COLUMNS}",
            application_id,
            customer_id,
            now,
        )
        return _application(row) if row else None

    async def open_customer_program(self, customer_id: str, program: str, *, now: int) -> None:
        await self._execute(
            "UPDATE customers SET statuses = "
            "(statuses::jsonb || jsonb_build_object($2::text, 'OPEN'))::text, updated_at = $3 "
            "WHERE id = $1",
            customer_id,
            program,
            now,
        )


def _application(row: asyncpg.Record) -> Application:
    return Application(**dict(row))
