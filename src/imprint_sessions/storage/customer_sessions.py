"""Customer sessions (``/v2/customer_sessions``, the hot path).

``SESSION_COLUMNS`` and ``customer_session_from_row`` are the one session read the client API
and the partner's lifecycle calls share.
"""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.dialect import id_text
from imprint_sessions.storage.records import CustomerSession
from imprint_sessions.storage.sql import Repository, Row, Statement, bp
from imprint_sessions.storage.tables import customer_sessions

s = customer_sessions.c

SESSION_COLUMNS = (
    id_text(s.id).label("id"),
    id_text(s.partner_id).label("partner_id"),
    id_text(s.customer_id).label("customer_id"),
    s.secret_key_id,
    s.source,
    s.metadata.label("metadata_json"),
    s.created_at,
    s.expires_at,
    s.consumed_at,
    s.revoked_at,
)


def customer_session_from_row(row: Row) -> CustomerSession:
    return CustomerSession(**dict(row))


_GET = Statement(
    sa.select(*SESSION_COLUMNS).where(s.id == bp("id"), s.partner_id == bp("partner_id"))
)


class CustomerSessions(Repository):
    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None:
        row = await self._db.one(_GET, id=customer_session_id, partner_id=partner_id)
        return customer_session_from_row(row) if row else None
