"""Customer profiles on PostgreSQL: the client API's reads and partial updates."""

from __future__ import annotations

import asyncpg

from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import Customer
from imprint_sessions.storage.repositories import PROFILE_COLUMNS

# The profile of customer ``c``, as ``records.Customer`` (shared with client.py's context read).
CUSTOMER_COLUMNS = (
    "upper(c.id::text) AS id, upper(c.partner_id::text) AS partner_id, c.partner_customer_id, "
    "c.email, c.phone, c.phone_verified_at, c.first_name, c.last_name, c.preferred_language, "
    "c.date_of_birth, c.address AS address_json, c.statuses AS statuses_json, c.created_at, "
    "c.updated_at"
)
_CUSTOMER_FIELDS = tuple(Customer.__dataclass_fields__)


def customer_from_row(row: asyncpg.Record) -> Customer:
    # Fields this read does not select (the partner API's) keep their defaults.
    present = set(row.keys())
    return Customer(**{name: row[name] for name in _CUSTOMER_FIELDS if name in present})


class PgProfiles(PgRepository):
    async def update_customer_profile(
        self, customer_id: str, changes: dict[str, str | None], *, now: int
    ) -> Customer | None:
        columns = sorted(changes)
        assert PROFILE_COLUMNS.issuperset(columns), columns
        sets = [f"{column} = ${i}" for i, column in enumerate(columns, start=3)]
        if "phone" in changes:
            # SET sees the old row: a phone that really changes loses its verification.
            phone = f"${columns.index('phone') + 3}"
            sets.append(
                f"phone_verified_at = CASE WHEN c.phone IS NOT DISTINCT FROM {phone} "
                "THEN c.phone_verified_at END"
            )
        row = await self._fetchrow(
            f"UPDATE customers c SET {', '.join(sets)}, updated_at = $2 WHERE c.id = $1 "
            f"RETURNING {CUSTOMER_COLUMNS}",
            customer_id,
            now,
            *(changes[column] for column in columns),
        )
        return customer_from_row(row) if row else None
