"""What the hosted page reads on SQLite before its secret is exchanged."""

from __future__ import annotations

from imprint_sessions.storage.records import Partner
from imprint_sessions.storage.sqlite.partners import _partner
from imprint_sessions.storage.sqlite.runner import LiteRepository


class LiteHostedPage(LiteRepository):
    async def get_partner_of_customer_session(self, customer_session_id: str) -> Partner | None:
        rows = await self._runner.read(
            "SELECT p.id, p.name, p.merchant_keys, p.allowed_origins, p.created_at, p.logo_url "
            "FROM customer_sessions s JOIN partners p ON p.id = s.partner_id WHERE s.id = ?",
            customer_session_id,
        )
        return _partner(rows[0]) if rows else None
