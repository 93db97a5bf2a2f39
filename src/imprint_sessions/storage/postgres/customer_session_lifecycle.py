"""A customer's sessions on PostgreSQL as its partner lists and expires them."""

from __future__ import annotations

import asyncpg

from imprint_sessions.storage.postgres.paging import Condition, fetch_page
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import CustomerSession, Page, PageRequest

_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, "
    "upper(customer_id::text) AS customer_id, secret_key_id, source, metadata AS metadata_json, "
    "created_at, expires_at, consumed_at, revoked_at"
)

# One statement: revoke a live session, or (nothing to revoke) read it as it is. The second
# branch reads the snapshot from before the UPDATE, which is only used when the UPDATE did nothing.
_REVOKE = f"""
WITH revoked AS (
    UPDATE customer_sessions SET revoked_at = $3
    WHERE id = $1 AND partner_id = $2 AND revoked_at IS NULL AND expires_at > $3
    RETURNING {_COLUMNS}
)
SELECT * FROM revoked
UNION ALL
SELECT {_COLUMNS} FROM customer_sessions
WHERE id = $1 AND partner_id = $2 AND NOT EXISTS (SELECT 1 FROM revoked)
"""


def _session(row: asyncpg.Record) -> CustomerSession:
    return CustomerSession(**dict(row))


class PgCustomerSessionLifecycle(PgRepository):
    async def list_sessions_of_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[CustomerSession] | None:
        raw = await self._run(
            lambda c: fetch_page(
                c,
                table="customer_sessions",
                columns=_COLUMNS,
                scope=[
                    Condition("partner_id = {}", partner_id),
                    Condition("customer_id = {}", customer_id),
                ],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(_session)

    async def revoke_partner_customer_session(
        self, partner_id: str, customer_session_id: str, *, now: int
    ) -> CustomerSession | None:
        row = await self._fetchrow(_REVOKE, customer_session_id, partner_id, now)
        return _session(row) if row else None
