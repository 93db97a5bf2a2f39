"""A customer's sessions as its partner lists and expires them (never their secrets)."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.audit_events import record_with
from imprint_sessions.storage.customer_sessions import SESSION_COLUMNS, customer_session_from_row
from imprint_sessions.storage.paging import Pager
from imprint_sessions.storage.records import CustomerSession, NewAuditEvent, Page, PageRequest
from imprint_sessions.storage.sql import Executor, Repository, Row, Statement, bp
from imprint_sessions.storage.tables import customer_sessions

s = customer_sessions.c

_REVOKE = Statement(
    sa.update(customer_sessions)
    .where(
        s.id == bp("id"),
        s.partner_id == bp("partner_id"),
        s.revoked_at.is_(None),
        s.expires_at > bp("now"),
    )
    .values(revoked_at=bp("now"))
    .returning(*SESSION_COLUMNS)
)
_GET = Statement(
    sa.select(*SESSION_COLUMNS).where(s.id == bp("id"), s.partner_id == bp("partner_id"))
)
_PAGES = Pager(
    customer_sessions,
    SESSION_COLUMNS,
    customer_session_from_row,
    scope=("partner_id", "customer_id"),
)


class CustomerSessionLifecycle(Repository):
    async def list_sessions_of_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[CustomerSession] | None:
        return await _PAGES.fetch(
            self._db, page, {"partner_id": partner_id, "customer_id": customer_id}
        )

    async def revoke_partner_customer_session(
        self,
        partner_id: str,
        customer_session_id: str,
        *,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> tuple[CustomerSession, bool] | None:
        # Revoke a live session (with its audit entry), or, when there is nothing to revoke
        # (already revoked, expired or not the partner's), read it as it now is.
        params = {"id": customer_session_id, "partner_id": partner_id}

        async def revoke(x: Executor) -> Row | None:
            row = await x.one(_REVOKE, **params, now=now)
            if row is not None:
                await record_with(x, audit, partner_id=partner_id)
            return row

        revoked = await self._db.transaction(revoke)
        row = revoked or await self._db.one(_GET, **params)
        return (customer_session_from_row(row), revoked is not None) if row else None
