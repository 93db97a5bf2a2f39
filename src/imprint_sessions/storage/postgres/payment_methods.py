"""Payment methods (cards and loans) on PostgreSQL."""

from __future__ import annotations

import asyncpg

from imprint_sessions.storage.postgres.paging import Condition, fetch_page
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import Page, PageRequest, PaymentMethod

_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, "
    "upper(customer_id::text) AS customer_id, upper(application_id::text) AS application_id, "
    "type, status, card AS card_json, loan AS loan_json, metadata AS metadata_json, created_at, "
    "updated_at"
)


class PgPaymentMethods(PgRepository):
    async def insert_payment_method(self, payment_method: PaymentMethod) -> None:
        pm = payment_method
        await self._execute(
            "INSERT INTO payment_methods (id, partner_id, customer_id, application_id, type, "
            "status, card, loan, metadata, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            pm.id,
            pm.partner_id,
            pm.customer_id,
            pm.application_id,
            pm.type,
            pm.status,
            pm.card_json,
            pm.loan_json,
            pm.metadata_json,
            pm.created_at,
            pm.updated_at,
        )

    async def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE customer_id = $1 "
            "ORDER BY created_at, id",
            customer_id,
        )
        return [_payment_method(r) for r in rows]

    async def get_payment_method(
        self, payment_method_id: str, *, customer_id: str
    ) -> PaymentMethod | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE id = $1 AND customer_id = $2",
            payment_method_id,
            customer_id,
        )
        return _payment_method(row) if row else None

    async def change_payment_method_status(
        self,
        payment_method_id: str,
        *,
        customer_id: str,
        from_status: str,
        to_status: str,
        now: int,
    ) -> PaymentMethod | None:
        row = await self._fetchrow(
            "UPDATE payment_methods SET status = $4, updated_at = $5 "
            "WHERE id = $1 AND customer_id = $2 AND status = $3 "
            f"RETURNING {_COLUMNS}",
            payment_method_id,
            customer_id,
            from_status,
            to_status,
            now,
        )
        return _payment_method(row) if row else None

    # -- the partner API's reads (issue 5) ------------------------------------------------------
    async def list_payment_methods_for_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[PaymentMethod] | None:
        raw = await self._run(
            lambda c: fetch_page(
                c,
                table="payment_methods",
                columns=_COLUMNS,
                scope=[
                    Condition("partner_id = {}", partner_id),
                    Condition("customer_id = {}", customer_id),
                ],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(_payment_method)

    async def get_payment_method_for_partner(
        self, partner_id: str, payment_method_id: str
    ) -> PaymentMethod | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE id = $1 AND partner_id = $2",
            payment_method_id,
            partner_id,
        )
        return _payment_method(row) if row else None


def _payment_method(row: asyncpg.Record) -> PaymentMethod:
    return PaymentMethod(**dict(row))
