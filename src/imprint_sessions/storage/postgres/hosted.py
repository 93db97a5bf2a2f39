"""What the hosted page reads on PostgreSQL before its secret is exchanged."""

from __future__ import annotations

from imprint_sessions.storage.postgres.partners import _partner
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import Partner


class PgHostedPage(PgRepository):
    async def get_partner_of_customer_session(self, customer_session_id: str) -> Partner | None:
        row = await self._fetchrow(
            "SELECT upper(p.id::text) AS id, p.name, p.merchant_keys, p.allowed_origins, "
            "p.created_at, p.logo_url "
            "FROM customer_sessions s JOIN partners p ON p.id = s.partner_id WHERE s.id = $1",
            customer_session_id,
        )
        return _partner(row) if row else None
