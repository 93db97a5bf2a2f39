"""Customers as their partner reads, searches and updates them (``/v2/customers``).

``CUSTOMER_COLUMNS`` and ``customer_from_row`` are the one customer read every other resource
(the client API's context and profile) shares.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

import sqlalchemy as sa

from imprint_sessions.storage.dialect import UNIQUE_VIOLATION, TextList, in_texts
from imprint_sessions.storage.paging import Pager
from imprint_sessions.storage.records import (
    Customer,
    CustomerChanges,
    CustomerQuery,
    Page,
    PageRequest,
    UpdateOutcome,
)
from imprint_sessions.storage.sql import Repository, Row, Statement, bp, columns, every_column
from imprint_sessions.storage.tables import customers

c = customers.c

# The customer's profile, as the client API reads it.
CUSTOMER_COLUMNS = columns(
    customers,
    "id partner_id partner_customer_id email phone phone_verified_at first_name last_name "
    "preferred_language date_of_birth address statuses created_at updated_at",
    address="address_json",
    statuses="statuses_json",
)
# The whole row as its partner sees it: all but the SSN's keyed hash (a search key, never shown)
# and the account history (kept for applications).
PARTNER_CUSTOMER_COLUMNS = every_column(
    customers,
    omit=("ssn_hash", "account_history"),
    address="address_json",
    statuses="statuses_json",
    metadata="metadata_json",
)

_FIELDS = tuple(Customer.__dataclass_fields__)


def customer_from_row(row: Row) -> Customer:
    # Fields a read does not select (the partner API's, in the client's) keep their defaults.
    present = set(row.keys())
    return Customer(**{name: row[name] for name in _FIELDS if name in present})


# CustomerChanges field -> its column, by name (``address_json`` -> ``address``). Column names
# come from here, never from input.
_CHANGE_COLUMNS = {
    field: c[field] if field in c else c[field.removesuffix("_json")]
    for field in CustomerChanges.__dataclass_fields__
}

_GET = Statement(
    sa.select(*PARTNER_CUSTOMER_COLUMNS).where(c.id == bp("id"), c.partner_id == bp("partner_id"))
)
_PAGES = Pager(
    customers,
    PARTNER_CUSTOMER_COLUMNS,
    customer_from_row,
    scope=("partner_id",),
    filters={
        "partner_customer_id": lambda value: c.partner_customer_id == value,
        "date_of_birth": lambda value: c.date_of_birth == value,
        # Written as a comparison with the column, so the partial index (ssn_hash IS NOT NULL)
        # applies.
        "ssn_hashes": lambda values: in_texts(c.ssn_hash, values),
    },
)


@cache
def _update(fields: tuple[str, ...], compare_metadata: bool) -> Statement:
    """``UPDATE`` of these ``CustomerChanges`` fields (each shape compiled once)."""
    update = sa.update(customers).where(c.id == bp("id"), c.partner_id == bp("partner_id"))
    if compare_metadata:
        before = sa.cast(bp("metadata_before"), sa.Text)
        update = update.where(c.metadata.is_not_distinct_from(before))
    values = {_CHANGE_COLUMNS[field]: bp(f"set_{field}") for field in fields}
    return Statement(
        update.values({c.updated_at: bp("now"), **values}).returning(*PARTNER_CUSTOMER_COLUMNS)
    )


class PartnerCustomers(Repository):
    async def get_partner_customer(self, partner_id: str, customer_id: str) -> Customer | None:
        row = await self._db.one(_GET, id=customer_id, partner_id=partner_id)
        return customer_from_row(row) if row else None

    async def list_partner_customers(
        self, partner_id: str, query: CustomerQuery, page: PageRequest
    ) -> Page[Customer] | None:
        filters: dict[str, Any] = {}
        if query.partner_customer_id is not None:
            filters["partner_customer_id"] = query.partner_customer_id
        if query.date_of_birth is not None:
            filters["date_of_birth"] = query.date_of_birth
        if query.ssn_hashes is not None:
            filters["ssn_hashes"] = TextList(query.ssn_hashes)
        return await _PAGES.fetch(self._db, page, {"partner_id": partner_id}, filters)

    async def update_partner_customer(
        self,
        partner_id: str,
        customer_id: str,
        changes: CustomerChanges,
        *,
        now: int,
        metadata_before: str | None = None,
    ) -> Customer | UpdateOutcome:
        values = {f"set_{f}": v for f, v in asdict(changes).items() if v is not None}
        statement = _update(
            tuple(name.removeprefix("set_") for name in values),
            changes.metadata_json is not None,
        )
        if changes.metadata_json is not None:
            values["metadata_before"] = metadata_before
        try:
            row = await self._db.one(
                statement, id=customer_id, partner_id=partner_id, now=now, **values
            )
        except UNIQUE_VIOLATION:
            return UpdateOutcome.PARTNER_CUSTOMER_ID_TAKEN
        return customer_from_row(row) if row else UpdateOutcome.NOT_UPDATED
