"""Customer sessions on SQLite: find or create the customer and insert, in one transaction."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import CreateOutcome, NewCustomerSession
from imprint_sessions.storage.sqlite.runner import LiteRepository

_INSERT_CUSTOMER = (
    "INSERT INTO customers (id, partner_id, partner_customer_id, email, phone, first_name, "
    "last_name, preferred_language, address, account_history, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SESSION = (
    "INSERT INTO customer_sessions (id, partner_id, customer_id, merchant_key, secret_key_id, "
    "transaction_amount, transaction_currency, customer_history, source, metadata, created_at, "
    "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class LiteCustomerSessions(LiteRepository):
    async def create_customer_session(self, new: NewCustomerSession) -> CreateOutcome:
        return await self._runner.write(lambda c: _create_customer_session(c, new))


def _create_customer_session(conn: sqlite3.Connection, new: NewCustomerSession) -> CreateOutcome:
    """Find or create the customer and insert the session, inside ``BEGIN IMMEDIATE``."""
    customer_id: str
    if new.customer_id is not None:
        row = conn.execute(
            "SELECT partner_customer_id FROM customers WHERE id = ? AND partner_id = ?",
            (new.customer_id, new.partner_id),
        ).fetchone()
        if row is None:
            return CreateOutcome.CUSTOMER_NOT_FOUND
        if new.partner_customer_id is not None and row[0] != new.partner_customer_id:
            return CreateOutcome.CUSTOMER_MISMATCH
        customer_id = new.customer_id
    else:
        row = None
        if new.partner_customer_id is not None:
            row = conn.execute(
                "SELECT id FROM customers WHERE partner_id = ? AND partner_customer_id = ?",
                (new.partner_id, new.partner_customer_id),
            ).fetchone()
        if row is not None:
            customer_id = row[0]
        else:
            c = new.new_customer
            customer_id = c.id
            conn.execute(
                _INSERT_CUSTOMER,
                (
                    c.id,
                    new.partner_id,
                    new.partner_customer_id,
                    c.email,
                    c.phone,
                    c.first_name,
                    c.last_name,
                    c.preferred_language,
                    c.address_json,
                    c.account_history_json,
                    new.created_at,
                    new.created_at,
                ),
            )
    conn.execute(
        _INSERT_SESSION,
        (
            new.id,
            new.partner_id,
            customer_id,
            new.merchant_key,
            new.secret_key_id,
            new.transaction_amount,
            new.transaction_currency,
            new.customer_history_json,
            new.source,
            new.metadata_json,
            new.created_at,
            new.expires_at,
        ),
    )
    return CreateOutcome.CREATED
