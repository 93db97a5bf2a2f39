"""What the hosted page reads before its secret is exchanged (reads only, consumes nothing)."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.partners import PARTNER_COLUMNS, partner_from_row
from imprint_sessions.storage.records import Partner
from imprint_sessions.storage.sql import Repository, Statement, bp
from imprint_sessions.storage.tables import customer_sessions, partners

_PARTNER_OF_SESSION = Statement(
    sa.select(*PARTNER_COLUMNS)
    .select_from(customer_sessions.join(partners, partners.c.id == customer_sessions.c.partner_id))
    .where(customer_sessions.c.id == bp("id"))
)


class HostedPage(Repository):
    async def get_partner_of_customer_session(self, customer_session_id: str) -> Partner | None:
        row = await self._db.one(_PARTNER_OF_SESSION, id=customer_session_id)
        return partner_from_row(row) if row else None
