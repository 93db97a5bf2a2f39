"""Customer sessions on PostgreSQL: create-session is one statement (one round trip).

A CTE finds or creates the customer and inserts the session, so the write is atomic without an
explicit transaction.
"""

from __future__ import annotations

from typing import Any

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import CreateOutcome, NewCustomerSession

# $1..$11: the session; $12..$19: the profile of a customer created by this call.
_INSERT_SESSION = """
INSERT INTO customer_sessions (id, partner_id, customer_id, merchant_key, secret_key_id,
    transaction_amount, transaction_currency, customer_history, source, metadata,
    created_at, expires_at)
SELECT $1, $2, customer.id, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM customer
RETURNING 1
"""
_NEW_CUSTOMER_VALUES = "$12, $2, {pcid}, $13, $14, $15, $16, $17, $18, $19, $10, $10"
_CUSTOMER_COLUMNS = (
    "id, partner_id, partner_customer_id, email, phone, first_name, last_name, "
    "preferred_language, address, account_history, created_at, updated_at"
)

# Find-or-create by partner_customer_id in one statement. Under a race both callers miss
# `existing`; the loser's INSERT waits for the winner and then does nothing, so it returns no
# row and the caller retries once (the winner's row is visible to the next statement).
CREATE_FOR_PARTNER_CUSTOMER_ID = f"""
WITH existing AS (
    SELECT id FROM customers WHERE partner_id = $2 AND partner_customer_id = $20
), created AS (
    INSERT INTO customers ({_CUSTOMER_COLUMNS})
    SELECT {_NEW_CUSTOMER_VALUES.format(pcid="$20")} WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (partner_id, partner_customer_id) DO NOTHING
    RETURNING id
), customer AS (
    SELECT id FROM existing UNION ALL SELECT id FROM created
)
{_INSERT_SESSION}
"""

CREATE_FOR_NEW_CUSTOMER = f"""
WITH customer AS (
    INSERT INTO customers ({_CUSTOMER_COLUMNS})
    VALUES ({_NEW_CUSTOMER_VALUES.format(pcid="NULL")})
    RETURNING id
)
{_INSERT_SESSION}
"""

# $12 is the customer_id; $13 (partner_customer_id), when given, must name the same customer.
CREATE_FOR_CUSTOMER_ID = f"""
WITH customer AS (
    SELECT id FROM customers
    WHERE id = $12 AND partner_id = $2
      AND ($13::text IS NULL OR partner_customer_id = $13::text)
)
{_INSERT_SESSION}
"""


def _session_args(new: NewCustomerSession) -> list[Any]:
    return [
        new.id,
        new.partner_id,
        new.merchant_key,
        new.secret_key_id,
        new.transaction_amount,
        new.transaction_currency,
        new.customer_history_json,
        new.source,
        new.metadata_json,
        new.created_at,
        new.expires_at,
    ]


def _customer_args(new: NewCustomerSession) -> list[Any]:
    c = new.new_customer
    return [
        c.id,
        c.email,
        c.phone,
        c.first_name,
        c.last_name,
        c.preferred_language,
        c.address_json,
        c.account_history_json,
    ]


class PgCustomerSessions(PgRepository):
    async def create_customer_session(self, new: NewCustomerSession) -> CreateOutcome:
        session_args = _session_args(new)
        if new.customer_id is not None:
            created = await self._fetchrow(
                CREATE_FOR_CUSTOMER_ID, *session_args, new.customer_id, new.partner_customer_id
            )
            if created is not None:
                return CreateOutcome.CREATED
            exists = await self._fetchrow(
                "SELECT 1 FROM customers WHERE id = $1 AND partner_id = $2",
                new.customer_id,
                new.partner_id,
            )
            return CreateOutcome.CUSTOMER_MISMATCH if exists else CreateOutcome.CUSTOMER_NOT_FOUND
        customer_args = _customer_args(new)
        if new.partner_customer_id is None:
            await self._fetchrow(CREATE_FOR_NEW_CUSTOMER, *session_args, *customer_args)
            return CreateOutcome.CREATED
        for _ in range(3):
            created = await self._fetchrow(
                CREATE_FOR_PARTNER_CUSTOMER_ID,
                *session_args,
                *customer_args,
                new.partner_customer_id,
            )
            if created is not None:
                return CreateOutcome.CREATED
        raise ServiceUnavailable("database: could not settle a concurrent customer creation")
