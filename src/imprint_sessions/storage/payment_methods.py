"""Payment methods (cards and loans): the client API's reads and writes, the partner API's reads."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.paging import Pager
from imprint_sessions.storage.records import Page, PageRequest, PaymentMethod
from imprint_sessions.storage.sql import Repository, Row, Statement, bp, columns, params, values_of
from imprint_sessions.storage.tables import payment_methods

pm = payment_methods.c

_FIELDS = (
    "id partner_id customer_id application_id type status card loan metadata created_at updated_at"
)
_COLUMNS = columns(
    payment_methods, _FIELDS, card="card_json", loan="loan_json", metadata="metadata_json"
)


def _payment_method(row: Row) -> PaymentMethod:
    return PaymentMethod(**dict(row))


_INSERT = Statement(sa.insert(payment_methods).values(params(_FIELDS)))
_LIST_OF_CUSTOMER = Statement(
    sa.select(*_COLUMNS).where(pm.customer_id == bp("customer_id")).order_by(pm.created_at, pm.id)
)
_GET_OF_CUSTOMER = Statement(
    sa.select(*_COLUMNS).where(pm.id == bp("id"), pm.customer_id == bp("customer_id"))
)
_GET_OF_PARTNER = Statement(
    sa.select(*_COLUMNS).where(pm.id == bp("id"), pm.partner_id == bp("partner_id"))
)
_CHANGE_STATUS = Statement(
    sa.update(payment_methods)
    .where(pm.id == bp("id"), pm.customer_id == bp("customer_id"), pm.status == bp("from_status"))
    .values(status=bp("to_status"), updated_at=bp("now"))
    .returning(*_COLUMNS)
)
_PAGES = Pager(payment_methods, _COLUMNS, _payment_method, scope=("partner_id", "customer_id"))


class PaymentMethods(Repository):
    async def insert_payment_method(self, payment_method: PaymentMethod) -> None:
        await self._db.count(_INSERT, **values_of(payment_method, _FIELDS))

    async def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]:
        rows = await self._db.all(_LIST_OF_CUSTOMER, customer_id=customer_id)
        return [_payment_method(r) for r in rows]

    async def get_payment_method(
        self, payment_method_id: str, *, customer_id: str
    ) -> PaymentMethod | None:
        row = await self._db.one(_GET_OF_CUSTOMER, id=payment_method_id, customer_id=customer_id)
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
        row = await self._db.one(
            _CHANGE_STATUS,
            id=payment_method_id,
            customer_id=customer_id,
            from_status=from_status,
            to_status=to_status,
            now=now,
        )
        return _payment_method(row) if row else None

    # -- the partner API's reads -----------------------------------------------------------------
    async def list_payment_methods_for_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[PaymentMethod] | None:
        return await _PAGES.fetch(
            self._db, page, {"partner_id": partner_id, "customer_id": customer_id}
        )

    async def get_payment_method_for_partner(
        self, partner_id: str, payment_method_id: str
    ) -> PaymentMethod | None:
        row = await self._db.one(_GET_OF_PARTNER, id=payment_method_id, partner_id=partner_id)
        return _payment_method(row) if row else None
