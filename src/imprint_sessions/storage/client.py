"""The client API's view of a session (``/v2/client``): the one-time exchange and context.

The exchange and its audit entry are one statement on PostgreSQL (a writable CTE) and one
transaction hop on SQLite: a secret is never consumed without its entry, nor the reverse.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from imprint_sessions.storage.audit_events import audit_from, audit_params, record_with
from imprint_sessions.storage.customer_sessions import SESSION_COLUMNS, customer_session_from_row
from imprint_sessions.storage.customers import CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.dialect import WRITABLE_CTES, id_text
from imprint_sessions.storage.records import ClientContext, CustomerSession, NewAuditEvent
from imprint_sessions.storage.sandboxes import partner_now
from imprint_sessions.storage.sql import Executor, Repository, Row, Statement, bp
from imprint_sessions.storage.tables import Id, customer_sessions, customers, partners

s = customer_sessions.c


def _consume(now: sa.ColumnElement[int]) -> sa.Update:
    """The one-time-use guarantee: one statement, so of concurrent exchanges exactly one matches.
    ``consumed_at`` is set to ``now``, so it says what time the exchange took place at."""
    return (
        sa.update(customer_sessions)
        .where(
            s.id == bp("id"),
            s.consumed_at.is_(None),
            s.revoked_at.is_(None),
            s.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(*SESSION_COLUMNS)
    )


def _consume_audited(consume: sa.Update) -> Statement:
    """PostgreSQL: the same, writing the audit entry (its partner the session's, its time the
    exchange's) in the statement."""
    consumed = consume.cte("consumed")
    audit = audit_from(
        consumed, partner_id=sa.cast(consumed.c.partner_id, Id), created_at=consumed.c.consumed_at
    )
    return Statement(
        sa.select(*(consumed.c[column.name] for column in SESSION_COLUMNS)).add_cte(
            audit.cte("audit")
        ),
        sqlite=False,
    )


# Keyed by whether test clocks are followed (the sandbox): then "now" is the session's partner's
# test clock where it has one (the secret names no partner until the statement finds the session).
_NOW = {False: bp("now"), True: partner_now(s.partner_id)}
_CONSUME = {clocks: Statement(_consume(now)) for clocks, now in _NOW.items()}
_CONSUME_AUDITED = {clocks: _consume_audited(_consume(now)) for clocks, now in _NOW.items()}
_FIND = Statement(sa.select(*SESSION_COLUMNS).where(s.id == bp("id")))

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
        partners.c.test_clock_at,
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
        self,
        customer_session_id: str,
        *,
        now: int,
        audit: NewAuditEvent | None = None,
        test_clocks: bool = False,
    ) -> CustomerSession | None:
        params = {"id": customer_session_id, "now": now}
        consume_statement = _CONSUME[test_clocks]
        if audit is None:
            row = await self._db.one(consume_statement, **params)
        elif WRITABLE_CTES[self._db.dialect]:
            row = await self._db.one(_CONSUME_AUDITED[test_clocks], **params, **audit_params(audit))
        else:

            async def consume(x: Executor) -> Row | None:
                consumed = await x.one(consume_statement, **params)
                if consumed is not None:
                    at = consumed["consumed_at"]
                    await record_with(
                        x, replace(audit, created_at=at), partner_id=consumed["partner_id"]
                    )
                return consumed

            row = await self._db.transaction(consume)
        return customer_session_from_row(row) if row else None

    async def find_customer_session(self, customer_session_id: str) -> CustomerSession | None:
        row = await self._db.one(_FIND, id=customer_session_id)
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
            test_clock_at=row["test_clock_at"],
        )
