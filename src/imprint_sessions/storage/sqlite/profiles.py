"""Customer profiles on SQLite: the client API's reads and partial updates."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import Customer
from imprint_sessions.storage.repositories import PROFILE_COLUMNS
from imprint_sessions.storage.sqlite.runner import LiteRepository

# The profile of customer ``c``, as ``records.Customer`` (shared with client.py's context read).
CUSTOMER_COLUMNS = (
    "c.id AS id, c.partner_id AS partner_id, c.partner_customer_id, c.email, c.phone, "
    "c.phone_verified_at, c.first_name, c.last_name, c.preferred_language, c.date_of_birth, "
    "c.address AS address_json, c.statuses AS statuses_json, c.created_at, c.updated_at"
)
_CUSTOMER_FIELDS = tuple(Customer.__dataclass_fields__)


def customer_from_row(row: sqlite3.Row) -> Customer:
    # Fields this read does not select (the partner API's) keep their defaults.
    present = set(row.keys())
    return Customer(**{name: row[name] for name in _CUSTOMER_FIELDS if name in present})


class LiteProfiles(LiteRepository):
    async def update_customer_profile(
        self, customer_id: str, changes: dict[str, str | None], *, now: int
    ) -> Customer | None:
        columns = sorted(changes)
        assert PROFILE_COLUMNS.issuperset(columns), columns
        sets = [f"{column} = :{column}" for column in columns]
        if "phone" in changes:
            # SET sees the old row: a phone that really changes loses its verification.
            sets.append("phone_verified_at = CASE WHEN phone IS :phone THEN phone_verified_at END")
        params = {**changes, "customer_id": customer_id, "now": now}

        def work(conn: sqlite3.Connection) -> Customer | None:
            updated = conn.execute(
                f"UPDATE customers SET {', '.join(sets)}, updated_at = :now "
                "WHERE id = :customer_id RETURNING id",
                params,
            ).fetchone()
            if updated is None:
                return None
            row = conn.execute(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers c WHERE c.id = ?", (customer_id,)
            ).fetchone()
            return customer_from_row(row)

        return await self._runner.write(work)
