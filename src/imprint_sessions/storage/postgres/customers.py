"""Customers on PostgreSQL as their partner reads, searches and updates them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import asyncpg

from imprint_sessions.storage.postgres.paging import Condition, fetch_page
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import (
    Customer,
    CustomerChanges,
    CustomerQuery,
    Page,
    PageRequest,
    UpdateOutcome,
)

CUSTOMER_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, partner_customer_id, email, "
    "phone, phone_verified_at, first_name, last_name, preferred_language, date_of_birth, "
    "address AS address_json, statuses AS statuses_json, created_at, updated_at, ssn4, "
    "metadata AS metadata_json"
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


def customer(row: asyncpg.Record) -> Customer:
    return Customer(**dict(row))


class PgPartnerCustomers(PgRepository):
    async def get_partner_customer(self, partner_id: str, customer_id: str) -> Customer | None:
        row = await self._fetchrow(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 AND partner_id = $2",
            customer_id,
            partner_id,
        )
        return customer(row) if row else None

    async def list_partner_customers(
        self, partner_id: str, query: CustomerQuery, page: PageRequest
    ) -> Page[Customer] | None:
        filters = []
        if query.partner_customer_id is not None:
            filters.append(Condition("partner_customer_id = {}", query.partner_customer_id))
        if query.date_of_birth is not None:
            filters.append(Condition("date_of_birth = {}", query.date_of_birth))
        if query.ssn_hashes is not None:
            filters.append(Condition("ssn_hash = ANY({}::text[])", list(query.ssn_hashes)))
        raw = await self._run(
            lambda c: fetch_page(
                c,
                table="customers",
                columns=CUSTOMER_COLUMNS,
                scope=[Condition("partner_id = {}", partner_id)],
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
        args: list[Any] = [customer_id, partner_id, now]
        sets = ["updated_at = $3"]
        for field, value in asdict(changes).items():
            if value is not None:
                args.append(value)
                sets.append(f"{_CHANGE_COLUMNS[field]} = ${len(args)}")
        guard = ""
        if changes.metadata_json is not None:
            args.append(metadata_before)
            guard = f" AND metadata IS NOT DISTINCT FROM ${len(args)}::text"
        try:
            row = await self._fetchrow(
                f"UPDATE customers SET {', '.join(sets)} WHERE id = $1 AND partner_id = $2{guard} "
                f"RETURNING {CUSTOMER_COLUMNS}",
                *args,
            )
        except asyncpg.UniqueViolationError:
            return UpdateOutcome.PARTNER_CUSTOMER_ID_TAKEN
        return customer(row) if row else UpdateOutcome.NOT_UPDATED
