"""Card and loan applications (``/v2/client/applications``); each state change one UPDATE."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.dialect import correlated, id_text, json_with_key, xact_lock
from imprint_sessions.storage.records import Application
from imprint_sessions.storage.sql import (
    Repository,
    Row,
    Statement,
    bp,
    columns,
    lit,
    params,
    values_of,
)
from imprint_sessions.storage.tables import applications, customers, payment_methods

a, pm = applications.c, payment_methods.c

# The payment method an accepted application created, found through the customer's index.
_PAYMENT_METHOD_ID = correlated(
    sa.select(id_text(pm.id))
    .where(pm.customer_id == a.customer_id, pm.application_id == a.id)
    .order_by(pm.created_at)
    .limit(1)
    .scalar_subquery()
)
_FIELDS = (
    "id partner_id customer_id customer_session_id merchant_key type status phone input "
    "customer_history offer decision_reason created_at updated_at decided_at"
)
_COLUMNS = (
    *columns(
        applications,
        _FIELDS,
        input="input_json",
        customer_history="customer_history_json",
        offer="offer_json",
    ),
    _PAYMENT_METHOD_ID.label("payment_method_id"),
)


def _application(row: Row) -> Application:
    return Application(**dict(row))


_LOCK_FOR_PHONE = Statement(sa.select(xact_lock(bp("partner_id"), bp("phone"))))
_INSERT = Statement(sa.insert(applications).values(params(_FIELDS)))
_newest_first = (a.created_at.desc(), a.id.desc())
_GET = Statement(sa.select(*_COLUMNS).where(a.id == bp("id"), a.customer_id == bp("customer_id")))
_LATEST = Statement(
    sa.select(*_COLUMNS).where(a.customer_id == bp("customer_id")).order_by(*_newest_first).limit(1)
)
_UNFINISHED = Statement(
    sa.select(*_COLUMNS)
    .where(a.partner_id == bp("partner_id"), a.phone == bp("phone"), a.status == lit("APPROVED"))
    .order_by(*_newest_first)
    .limit(1)
)
_REATTACH = Statement(
    sa.update(applications)
    .where(a.id == bp("id"), a.status == lit("APPROVED"))
    .values(
        customer_id=bp("new_customer_id"),
        customer_session_id=bp("new_customer_session_id"),
        updated_at=bp("now"),
    )
    .returning(*_COLUMNS)
)
_ACCEPT_OFFER = Statement(
    sa.update(applications)
    .where(a.id == bp("id"), a.customer_id == bp("customer_id"), a.status == lit("APPROVED"))
    .values(status=lit("OFFER_ACCEPTED"), updated_at=bp("now"))
    .returning(*_COLUMNS)
)
_OPEN_PROGRAM = Statement(
    sa.update(customers)
    .where(customers.c.id == bp("customer_id"))
    .values(
        statuses=json_with_key(customers.c.statuses, bp("program"), lit("OPEN")),
        updated_at=bp("now"),
    )
)


class Applications(Repository):
    async def lock_applications_for_phone(self, partner_id: str, phone: str) -> None:
        # PostgreSQL: a transaction-scoped advisory lock on (partner, phone). SQLite: nothing to
        # take, a unit of work there already holds the one write lock (dialect.xact_lock).
        await self._db.one(_LOCK_FOR_PHONE, partner_id=partner_id, phone=phone)

    async def insert_application(self, application: Application) -> None:
        await self._db.count(_INSERT, **values_of(application, _FIELDS))

    async def get_application(self, application_id: str, *, customer_id: str) -> Application | None:
        row = await self._db.one(_GET, id=application_id, customer_id=customer_id)
        return _application(row) if row else None

    async def get_latest_application(self, customer_id: str) -> Application | None:
        row = await self._db.one(_LATEST, customer_id=customer_id)
        return _application(row) if row else None

    async def find_unfinished_application(self, partner_id: str, phone: str) -> Application | None:
        row = await self._db.one(_UNFINISHED, partner_id=partner_id, phone=phone)
        return _application(row) if row else None

    async def reattach_application(
        self, application_id: str, *, customer_id: str, customer_session_id: str, now: int
    ) -> Application | None:
        row = await self._db.one(
            _REATTACH,
            id=application_id,
            new_customer_id=customer_id,
            new_customer_session_id=customer_session_id,
            now=now,
        )
        return _application(row) if row else None

    async def accept_offer(
        self, application_id: str, *, customer_id: str, now: int
    ) -> Application | None:
        row = await self._db.one(_ACCEPT_OFFER, id=application_id, customer_id=customer_id, now=now)
        return _application(row) if row else None

    async def open_customer_program(self, customer_id: str, program: str, *, now: int) -> None:
        await self._db.count(_OPEN_PROGRAM, customer_id=customer_id, program=program, now=now)
