"""The client API's session reads on PostgreSQL: the one-time exchange and each call's context."""

from __future__ import annotations

from imprint_sessions.storage.postgres.customer_sessions import _SESSION_COLUMNS, _customer_session
from imprint_sessions.storage.postgres.profiles import CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import ClientContext, CustomerSession

# The one-time-use guarantee: one statement, so of concurrent exchanges exactly one matches.
_CONSUME = f"""
UPDATE customer_sessions SET consumed_at = $2
WHERE id = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2
RETURNING {_SESSION_COLUMNS}
"""

# Negative control only (IMPRINT_UNSAFE_RACY_EXCHANGE): no "consumed_at IS NULL", on purpose.
_MARK_CONSUMED_UNCHECKED = "UPDATE customer_sessions SET consumed_at = $2 WHERE id = $1"

_CONTEXT = f"""
SELECT upper(s.id::text) AS customer_session_id, p.name AS partner_name, s.merchant_key,
    s.transaction_amount, s.transaction_currency, s.customer_history AS customer_history_json,
    s.expires_at AS session_expires_at, {CUSTOMER_COLUMNS}
FROM customer_sessions s
JOIN customers c ON c.id = s.customer_id
JOIN partners p ON p.id = s.partner_id
WHERE s.id = $1 AND s.customer_id = $2 AND s.partner_id = $3 AND s.revoked_at IS NULL
"""


class PgClientSessions(PgRepository):
    async def consume_customer_session(
        self, customer_session_id: str, *, now: int
    ) -> CustomerSession | None:
        row = await self._fetchrow(_CONSUME, customer_session_id, now)
        return _customer_session(row) if row else None

    async def mark_customer_session_consumed_unchecked(
        self, customer_session_id: str, *, now: int
    ) -> None:
        await self._execute(_MARK_CONSUMED_UNCHECKED, customer_session_id, now)

    async def get_client_context(
        self, customer_session_id: str, *, customer_id: str, partner_id: str
    ) -> ClientContext | None:
        row = await self._fetchrow(_CONTEXT, customer_session_id, customer_id, partner_id)
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
