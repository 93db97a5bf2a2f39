"""Payment methods (cards and loans) on SQLite."""

from __future__ import annotations

from imprint_sessions.storage.records import Page, PageRequest, PaymentMethod
from imprint_sessions.storage.sqlite.paging import eq, fetch_page
from imprint_sessions.storage.sqlite.runner import LiteRepository

_COLUMNS = (
    "id, partner_id, customer_id, application_id, type, status, card AS card_json, "
    "loan AS loan_json, metadata AS metadata_json, created_at, updated_at"
)


class LitePaymentMethods(LiteRepository):
    async def insert_payment_method(self, payment_method: PaymentMethod) -> None:
        pm = payment_method
        args = (
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
        await self._runner.write(
            lambda c: c.execute(
                "INSERT INTO payment_methods (id, partner_id, customer_id, application_id, type, "
                "status, card, loan, metadata, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args,
            )
        )

    async def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        rows = await self._runner.read(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE customer_id = ? ORDER BY created_at, id",
            customer_id,
        )
        return [PaymentMethod(**dict(r)) for r in rows]

    async def get_payment_method(
        self, payment_method_id: str, *, customer_id: str
    ) -> PaymentMethod | None:
        rows = await self._runner.read(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE id = ? AND customer_id = ?",
            payment_method_id,
            customer_id,
        )
        return PaymentMethod(**dict(rows[0])) if rows else None

    async def change_payment_method_status(
        self,
        payment_method_id: str,
        *,
        customer_id: str,
        from_status: str,
        to_status: str,
        now: int,
    ) -> PaymentMethod | None:
        row = await self._runner.write(
            lambda c: c.execute(
                "UPDATE payment_methods SET status = ?, updated_at = ? "
                "WHERE id = ? AND customer_id = ? AND status = ? "
                f"RETURNING {_COLUMNS}",
                (to_status, now, payment_method_id, customer_id, from_status),
            ).fetchone()
        )
        return PaymentMethod(**dict(row)) if row else None

    # -- the partner API's reads (issue 5) ------------------------------------------------------
    async def list_payment_methods_for_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[PaymentMethod] | None:
        raw = await self._runner.run(
            lambda c: fetch_page(
                c,
                table="payment_methods",
                columns=_COLUMNS,
                scope=[eq("partner_id", partner_id), eq("customer_id", customer_id)],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(lambda r: PaymentMethod(**dict(r)))

    async def get_payment_method_for_partner(
        self, partner_id: str, payment_method_id: str
    ) -> PaymentMethod | None:
        rows = await self._runner.read(
            f"SELECT {_COLUMNS} FROM payment_methods WHERE id = ? AND partner_id = ?",
            payment_method_id,
            partner_id,
        )
        return PaymentMethod(**dict(rows[0])) if rows else None
