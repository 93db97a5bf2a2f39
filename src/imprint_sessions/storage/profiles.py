"""The customer's own profile (``/v2/client/profile``): partial updates."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa

from imprint_sessions.storage.customers import CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.records import Customer
from imprint_sessions.storage.repositories import PROFILE_COLUMNS
from imprint_sessions.storage.sql import Repository, Statement, bp
from imprint_sessions.storage.tables import customers

c = customers.c


@cache
def _update(columns: tuple[str, ...]) -> Statement:
    """``UPDATE`` of these profile columns (each shape compiled once)."""
    assert PROFILE_COLUMNS.issuperset(columns), columns
    values: dict[sa.Column[object], object] = {c[column]: bp(f"set_{column}") for column in columns}
    if "phone" in columns:
        # SET sees the old row: a phone that really changes loses its verification.
        same_phone = c.phone.is_not_distinct_from(bp("set_phone"))
        values[c.phone_verified_at] = sa.case((same_phone, c.phone_verified_at))
    return Statement(
        sa.update(customers)
        .where(c.id == bp("id"))
        .values({**values, c.updated_at: bp("now")})
        .returning(*CUSTOMER_COLUMNS)
    )


class Profiles(Repository):
    async def update_customer_profile(
        self, customer_id: str, changes: dict[str, str | None], *, now: int
    ) -> Customer | None:
        statement = _update(tuple(sorted(changes)))
        values = {f"set_{column}": value for column, value in changes.items()}
        row = await self._db.one(statement, id=customer_id, now=now, **values)
        return customer_from_row(row) if row else None
