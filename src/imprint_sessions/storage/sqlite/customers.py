"""Customers on SQLite as their partner reads, searches and updates them."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from typing import Any

from imprint_sessions.storage.records import (
    Customer,
    CustomerChanges,
    CustomerQuery,
    Page,
    PageRequest,
    UpdateOutcome,
)
from imprint_sessions.storage.sqlite.paging import any_of, eq, fetch_page
from imprint_sessions.storage.sqlite.runner import LiteRepository

CUSTOMER_COLUMNS = (
    "id, partner_id, partner_customer_id, email, phone, phone_verified_at, first_name, "
    "last_name, preferred_language, date_of_birth, address AS address_json, "
    "statuses AS statuses_json, created_at, updated_at, ssn4, metadata AS metadata_json"
)

# CustomerChanges field -> column. Column names come from here, never from input.
_CHANGE_COLUMNS = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "preferred_language": "preferred_language",
    "address_json": "address",
    "date_of_birth": "date_of_birth",
    "ssn4": "ssn4",
    "ssn_hash": "ssn_hash",
    "partner_customer_id": "partner_customer_id",
    "metadata_json": "metadata",
}


def customer(row: sqlite3.Row) -> Customer:
    return Customer(**dict(row))


class LitePartnerCustomers(LiteRepository):
    async def get_partner_customer(self, partner_id: str, customer_id: str) -> Customer | None:
        rows = await self._runner.read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ? AND partner_id = ?",
            customer_id,
            partner_id,
        )
        return customer(rows[0]) if rows else None

    async def list_partner_customers(
        self, partner_id: str, query: CustomerQuery, page: PageRequest
    ) -> Page[Customer] | None:
        filters = []
        if query.partner_customer_id is not None:
            filters.append(eq("partner_customer_id", query.partner_customer_id))
        if query.date_of_birth is not None:
            filters.append(eq("date_of_birth", query.date_of_birth))
        if query.ssn_hashes is not None:
            filters.append(any_of("ssn_hash", query.ssn_hashes))
        raw = await self._runner.run(
            lambda c: fetch_page(
                c,
                table="customers",
                columns=CUSTOMER_COLUMNS,
                scope=[eq("partner_id", partner_id)],
                filters=filters,
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(customer)

    async def update_partner_customer(
        self,
        partner_id: str,
        customer_id: str,
        changes: CustomerChanges,
        *,
        now: int,
        metadata_before: str | None = None,
    ) -> Customer | UpdateOutcome:
        sets = ["updated_at = ?"]
        args: list[Any] = [now]
        for field, value in asdict(changes).items():
            if value is not None:
                sets.append(f"{_CHANGE_COLUMNS[field]} = ?")
                args.append(value)
        args += [customer_id, partner_id]
        guard = ""
        if changes.metadata_json is not None:
            guard = " AND metadata IS ?"  # IS: NULL-safe equality in SQLite
            args.append(metadata_before)
        sql = (
            f"UPDATE customers SET {', '.join(sets)} WHERE id = ? AND partner_id = ?{guard} "
            f"RETURNING {CUSTOMER_COLUMNS}"
        )

        def update(conn: sqlite3.Connection) -> Customer | UpdateOutcome:
            try:
                row = conn.execute(sql, args).fetchone()
            except sqlite3.IntegrityError:
                return UpdateOutcome.PARTNER_CUSTOMER_ID_TAKEN
            return customer(row) if row else UpdateOutcome.NOT_UPDATED

        return await self._runner.write(update)
