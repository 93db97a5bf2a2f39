"""Throwaway sandboxes (``/v2/test_helpers/sandboxes``): partners made by a partner, and the
wiping of everything a partner owns.

What a partner owns is found from the schema, not listed here: every table with a ``partner_id``
column, and every table one foreign key away from one (a delivery's attempts, a session's
one-time codes). A table added later is wiped with the rest, or, if it cannot be reached that
way, this module fails at import naming it. The deployment's own tables (``DEPLOYMENT_TABLES``:
the console's operators and their logins) belong to no partner and are never wiped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imprint_sessions.storage.records import Sandbox
from imprint_sessions.storage.sql import Executor, Repository, Row, Statement, bp, columns
from imprint_sessions.storage.tables import api_keys, metadata, partners

p, k = partners.c, api_keys.c

# Kept by a reset: the sandbox's keys (a CI job's configuration stays valid), and the audit trail,
# which is append-only and outlives what it records.
_KEPT = frozenset({"partners", "api_keys", "audit_events"})
# Not a partner's at all: the deployment's console operators and their logins. Never wiped.
DEPLOYMENT_TABLES = frozenset({"operators", "operator_sessions"})


def partner_test_clock(partner_id: Any) -> Any:
    """The time the test clock of the partner ``partner_id`` (a column of the statement's row)
    shows, NULL when it has none: read in the statement that needs it, so no request pays a
    round trip of its own for it (the exchange, the webhook worker's claim)."""
    return sa.select(p.test_clock_at).where(p.id == partner_id).scalar_subquery()


def partner_now(partner_id: Any) -> Any:
    """ "Now" for the partner ``partner_id``: its test clock's time, else the ``now`` parameter."""
    return sa.func.coalesce(partner_test_clock(partner_id), bp("now"))


_SANDBOX_COLUMNS = columns(
    partners, "id name sandbox_of created_at test_clock_at", sandbox_of="parent_id"
)
_LIVE = p.deleted_at.is_(None)

_GET = Statement(
    sa.select(*_SANDBOX_COLUMNS).where(p.id == bp("id"), p.sandbox_of.is_not(None), _LIVE)
)
_LIST = Statement(
    sa.select(*_SANDBOX_COLUMNS)
    .where(p.sandbox_of == bp("parent_id"), _LIVE)
    .order_by(p.created_at, p.id)
)
_COUNT_LIVE = Statement(
    sa.select(sa.func.count()).select_from(partners).where(p.sandbox_of == bp("parent_id"), _LIVE)
)
_MARK_DELETED = Statement(
    sa.update(partners).where(p.id == bp("id"), _LIVE).values(deleted_at=bp("now"))
)
_REVOKE_KEYS = Statement(
    sa.update(api_keys)
    .where(k.partner_id == bp("id"), k.revoked_at.is_(None))
    .values(revoked_at=bp("now"))
)
_SET_PARENT = Statement(
    sa.update(partners)
    .where(p.id == bp("id"))
    .values(sandbox_of=bp("parent_id"), test_clock_at=bp("test_clock_at"))
)
_TEST_CLOCK_AT = Statement(sa.select(p.test_clock_at).where(p.id == bp("id"), _LIVE))
# Forward only, whatever else is advancing it at the same time: a clock never runs backwards.
_ADVANCE_TEST_CLOCK = Statement(
    sa.update(partners)
    .where(
        p.id == bp("id"),
        _LIVE,
        p.test_clock_at.is_not(None),
        p.test_clock_at <= bp("to"),
    )
    .values(test_clock_at=bp("to"))
    .returning(*_SANDBOX_COLUMNS)
)


def _wipes() -> list[Statement]:
    """One DELETE per owned table, children first (the foreign keys' order)."""
    statements: list[Statement] = []
    for table in reversed(metadata.sorted_tables):
        if table.name in _KEPT or table.name in DEPLOYMENT_TABLES:
            continue
        if "partner_id" in table.c:
            where: Any = table.c.partner_id == bp("partner_id")
        else:
            hop = next((fk for fk in table.foreign_keys if "partner_id" in fk.column.table.c), None)
            if hop is None:
                raise TypeError(
                    f"{table.name}: no partner_id and no foreign key to a table with one: say in "
                    "storage/sandboxes.py how a sandbox's rows in it are found"
                )
            owner = hop.column.table
            where = hop.parent.in_(
                sa.select(hop.column).where(owner.c.partner_id == bp("partner_id"))
            )
        statements.append(Statement(sa.delete(table).where(where)))
    return statements


_WIPES = _wipes()


def _sandbox(row: Row) -> Sandbox:
    return Sandbox(**dict(row))


async def _wipe(db: Executor, partner_id: str) -> None:
    for statement in _WIPES:
        await db.count(statement, partner_id=partner_id)


class Sandboxes(Repository):
    async def mark_sandbox_of(
        self, partner_id: str, parent_id: str, *, test_clock_at: int | None = None
    ) -> None:
        await self._db.count(
            _SET_PARENT, id=partner_id, parent_id=parent_id, test_clock_at=test_clock_at
        )

    async def get_test_clock_at(self, partner_id: str) -> int | None:
        row = await self._db.one(_TEST_CLOCK_AT, id=partner_id)
        return row[0] if row else None

    async def advance_test_clock(self, sandbox_id: str, *, to: int) -> Sandbox | None:
        row = await self._db.one(_ADVANCE_TEST_CLOCK, id=sandbox_id, to=to)
        return _sandbox(row) if row else None

    async def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        row = await self._db.one(_GET, id=sandbox_id)
        return _sandbox(row) if row else None

    async def list_sandboxes(self, parent_id: str) -> list[Sandbox]:
        return [_sandbox(row) for row in await self._db.all(_LIST, parent_id=parent_id)]

    async def count_live_sandboxes(self, parent_id: str) -> int:
        row = await self._db.one(_COUNT_LIVE, parent_id=parent_id)
        return int(row[0]) if row else 0

    async def wipe_partner_data(self, partner_id: str) -> None:
        """Delete everything the partner owns but its keys and its audit trail, atomically."""

        async def work(db: Executor) -> None:
            await _wipe(db, partner_id)

        await self._db.transaction(work)

    async def delete_sandbox(self, sandbox_id: str, *, now: int) -> bool:
        """Wipe the sandbox, revoke its keys and mark it deleted, atomically; False if it was not
        a live sandbox."""

        async def work(db: Executor) -> bool:
            if await db.count(_MARK_DELETED, id=sandbox_id, now=now) != 1:
                return False
            await db.count(_REVOKE_KEYS, id=sandbox_id, now=now)
            await _wipe(db, sandbox_id)
            return True

        return await self._db.transaction(work)
