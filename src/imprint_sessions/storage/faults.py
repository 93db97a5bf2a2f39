"""Sandbox test faults (``/v2/test_helpers/faults``): declared, listed, deleted and consumed.

A use is taken with one ``UPDATE ... WHERE id = (the oldest live match) AND still live
RETURNING``: the row lock (PostgreSQL) or the single writer (SQLite) makes a fault with one use
left go to exactly one of any number of concurrent requests, across processes. A fault until
deleted (``remaining`` NULL) is rewritten as it is, so it stays live.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imprint_sessions.storage.records import Fault, FaultTarget
from imprint_sessions.storage.sql import (
    Repository,
    Row,
    Statement,
    bp,
    columns,
    every_column,
    every_param,
    lit,
)
from imprint_sessions.storage.tables import customer_sessions, test_faults

f = test_faults.c
_COLUMNS = every_column(test_faults)


def _live(table: Any) -> sa.ColumnElement[bool]:
    return sa.or_(table.c.remaining.is_(None), table.c.remaining > 0)


_INSERT = Statement(sa.insert(test_faults).values(every_param(test_faults)))
_LIST = Statement(
    sa.select(*_COLUMNS).where(f.partner_id == bp("partner_id")).order_by(f.created_at, f.id)
)
_DELETE = Statement(
    sa.delete(test_faults)
    .where(f.id == bp("id"), f.partner_id == bp("partner_id"))
    .returning(*_COLUMNS)
)
_TARGETS = Statement(
    sa.select(*columns(test_faults, "partner_id kind operation endpoint_id"))
    .where(_live(test_faults))
    .distinct()
)


# An alias, so the subquery reads its own rows rather than correlating with the updated one.
candidate = test_faults.alias("candidate")


def _consume(*conditions: Any) -> Statement:
    """Take one use of the oldest live fault of ``candidate`` meeting ``conditions``."""
    oldest = (
        sa.select(candidate.c.id)
        .where(_live(candidate), *conditions)
        .order_by(candidate.c.created_at, candidate.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return Statement(
        sa.update(test_faults)
        .where(f.id == oldest, _live(test_faults))
        .values(remaining=sa.case((f.remaining.is_(None), None), else_=f.remaining - lit(1)))
        .returning(*_COLUMNS)
    )


_OPERATION_KINDS = ("error", "delay", "drop")
_CONSUME_OPERATION = _consume(
    candidate.c.partner_id == bp("partner_id"),
    candidate.c.kind.in_([lit(kind) for kind in _OPERATION_KINDS]),
    candidate.c.operation == bp("operation"),
)
_CONSUME_FOR_SESSION = _consume(
    candidate.c.partner_id
    == sa.select(customer_sessions.c.partner_id)
    .where(customer_sessions.c.id == bp("customer_session_id"))
    .scalar_subquery(),
    candidate.c.kind.in_([lit(kind) for kind in _OPERATION_KINDS]),
    candidate.c.operation == bp("operation"),
)
_CONSUME_HOSTED = _consume(
    candidate.c.partner_id == bp("partner_id"), candidate.c.kind == lit("hosted_outcome")
)
_CONSUME_ENDPOINT = _consume(
    candidate.c.endpoint_id == bp("endpoint_id"), candidate.c.kind == lit("webhook_failure")
)


def _fault(row: Row | None) -> Fault | None:
    return Fault(**dict(row)) if row else None


class Faults(Repository):
    async def insert_fault(self, fault: Fault) -> None:
        await self._db.count(
            _INSERT, **{column.name: getattr(fault, column.name) for column in test_faults.columns}
        )

    async def list_faults(self, partner_id: str) -> list[Fault]:
        return [Fault(**dict(row)) for row in await self._db.all(_LIST, partner_id=partner_id)]

    async def delete_fault(self, partner_id: str, fault_id: str) -> Fault | None:
        return _fault(await self._db.one(_DELETE, id=fault_id, partner_id=partner_id))

    async def list_fault_targets(self) -> list[FaultTarget]:
        return [FaultTarget(**dict(row)) for row in await self._db.all(_TARGETS)]

    async def consume_operation_fault(self, partner_id: str, operation: str) -> Fault | None:
        row = await self._db.one(_CONSUME_OPERATION, partner_id=partner_id, operation=operation)
        return _fault(row)

    async def consume_session_fault(self, customer_session_id: str, operation: str) -> Fault | None:
        row = await self._db.one(
            _CONSUME_FOR_SESSION, customer_session_id=customer_session_id, operation=operation
        )
        return _fault(row)

    async def consume_hosted_fault(self, partner_id: str) -> Fault | None:
        return _fault(await self._db.one(_CONSUME_HOSTED, partner_id=partner_id))

    async def consume_endpoint_fault(self, endpoint_id: str) -> Fault | None:
        return _fault(await self._db.one(_CONSUME_ENDPOINT, endpoint_id=endpoint_id))
