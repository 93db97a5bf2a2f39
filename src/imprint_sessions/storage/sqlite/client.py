"""The client API's session reads on SQLite: the one-time exchange and each call's context."""

from __future__ import annotations

from imprint_sessions.storage.records import ClientContext, CustomerSession
from imprint_sessions.storage.sqlite.customer_sessions import _SESSION_COLUMNS
from imprint_sessions.storage.sqlite.profiles import CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.sqlite.runner import LiteRepository

# The one-time-use guarantee: one statement, so of concurrent exchanges exactly one matches.
_CONSUME = f"""
UPDATE customer_sessions SET consumed_at = ?2
WHERE id = ?1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
RETURNING {_SESSION_COLUMNS}
"""

# Negative control only (IMPRINT_UNSAFE_RACY_EXCHANGE): no "consumed_at IS NULL", on purpose.
_MARK_CONSUMED_UNCHECKED = "UPDATE customer_sessions SET consumed_at = ?2 WHERE id = ?1"

_CONTEXT = f"""
SELECT s.id AS customer_session_id, p.name AS partner_name, s.merchant_key,
    s.transaction_amount, s.transaction_currency, s.customer_history AS customer_history_json,
    s.expires_at AS session_expires_at, {CUSTOMER_COLUMNS}
FROM customer_sessions s
JOIN customers c ON c.id = s.customer_id
JOIN partners p ON p.id = s.partner_id
WHERE s.id = ? AND s.customer_id = ? AND s.partner_id = ? AND s.revoked_at IS NULL
"""


class LiteClientSessions(LiteRepository):
    async def consume_customer_session(
        self, customer_session_id: str, *, now: int
    ) -> CustomerSession | None:
        row = await self._runner.write(
            lambda c: c.execute(_CONSUME, (customer_session_id, now)).fetchone()
        )
        return CustomerSession(**dict(row)) if row else None

    async def mark_customer_session_consumed_unchecked(
        self, customer_session_id: str, *, now: int
    ) -> None:
        await self._runner.write(
            lambda c: c.execute(_MARK_CONSUMED_UNCHECKED, (customer_session_id, now))
        )

    async def get_client_context(
        self, customer_session_id: str, *, customer_id: str, partner_id: str
    ) -> ClientContext | None:
        rows = await self._runner.read(_CONTEXT, customer_session_id, customer_id, partner_id)
        if not rows:
            return None
        row = rows[0]
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
