"""The client API's view of a session (``/v2/client``): the one-time exchange and context."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.customer_sessions import SESSION_COLUMNS, customer_session_from_row
from imprint_sessions.storage.customers import CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.dialect import id_text
from imprint_sessions.storage.records import ClientContext, CustomerSession
from imprint_sessions.storage.sql import Repository, Statement, bp
from imprint_sessions.storage.tables import customer_sessions, customers, partners

s = customer_sessions.c

# The one-time-use guarantee: one statement, so of concurrent exchanges exactly one matches.
_CONSUME = Statement(
    sa.update(customer_sessions)
    .where(
        s.id == bp("id"),
        s.consumed_at.is_(None),
        s.revoked_at.is_(None),
        s.expires_at > bp("now"),
    )
    .values(consumed_at=bp("now"))
    .returning(*SESSION_COLUMNS)
)

# Negative control only (IMPRINT_UNSAFE_RACY_EXCHANGE): no "consumed_at IS NULL", on purpose.
_MARK_CONSUMED_UNCHECKED = Statement(
    sa.update(customer_sessions).where(s.id == bp("id")).values(consumed_at=bp("now"))
)

_CONTEXT = Statement(
    sa.select(
        id_text(s.id).label("customer_session_id"),
        partners.c.name.label("partner_name"),
        s.merchant_key,
        s.transaction_amount,
        s.transaction_currency,
        s.customer_history.label("customer_history_json"),
        s.expires_at.label("session_expires_at"),
        *CUSTOMER_COLUMNS,
    )
    .select_from(
        customer_sessions.join(customers, customers.c.id == s.customer_id).join(
            partners, partners.c.id == s.partner_id
        )
    )
    .where(
        s.id == bp("id"),
        s.customer_id == bp("customer_id"),
        s.partner_id == bp("partner_id"),
        s.revoked_at.is_(None),
    )
)


class ClientSessions(Repository):
    async def consume_customer_session(
        self, customer_session_id: str, *, now: int
    ) -> CustomerSession | None:
        row = await self._db.one(_CONSUME, id=customer_session_id, now=now)
        return customer_session_from_row(row) if row else None

    async def mark_customer_session_consumed_unchecked(
        self, customer_session_id: str, *, now: int
    ) -> None:
        await self._db.count(_MARK_CONSUMED_UNCHECKED, id=customer_session_id, now=now)

    async def get_client_context(
        self, customer_session_id: str, *, customer_id: str, partner_id: str
    ) -> ClientContext | None:
        row = await self._db.one(
            _CONTEXT, id=customer_session_id, customer_id=customer_id, partner_id=partner_id
        )
        if row is None:
            return None
        customer = customer_from_row(row)
        return ClientContext(
            customer_session_id=row["customer_session_id"],
            partner_id=customer.partner_id,
            partner_name=row["partner_name"],
            merchant_key=row["merchant_key"],
            transaction_amount=row["transaction_amount"],
            transaction_currency=row["transaction_currency"],
            customer_history_json=row["customer_history_json"],
            session_expires_at=row["session_expires_at"],
            customer=customer,
        )
