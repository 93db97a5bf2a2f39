"""Keyset pagination on PostgreSQL: one page by ``(created_at, id)``, its total, its cursor.

The cursor row, the page and the count run on one connection (one pool checkout). ``total`` is
counted by its own statement, so under concurrent writes it may differ by the rows written in
between; every page is still exact and stable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from imprint_sessions.storage.records import Page, PageRequest

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``AND``-ed SQL condition with one bound value: ``sql`` holds ``{}`` for its ``$n``."""

    sql: str
    value: Any


@dataclass(frozen=True, slots=True)
class RawPage:
    rows: list[asyncpg.Record]
    has_more: bool
    total: int

    def to_page(self, convert: Callable[[asyncpg.Record], T]) -> Page[T]:
        """The page of records: every repository's lists end here."""
        return Page([convert(row) for row in self.rows], has_more=self.has_more, total=self.total)


def _where(conditions: Sequence[Condition], args: list[Any]) -> str:
    parts = []
    for condition in conditions:
        args.append(condition.value)
        parts.append(condition.sql.format(f"${len(args)}"))
    return " AND ".join(parts)


async def fetch_page(
    conn: asyncpg.Connection,
    *,
    table: str,
    columns: str,
    scope: Sequence[Condition],
    filters: Sequence[Condition] = (),
    page: PageRequest,
) -> RawPage | None:
    """Rows of ``table`` in ``scope`` matching ``filters``, after ``page.starting_after``.

    The cursor must be a row in ``scope`` (filters aside); None when it is not. ``table`` and
    ``columns`` are module constants of the caller, never input.
    """
    after: list[Any] = []
    if page.starting_after is not None:
        cursor_args: list[Any] = []
        scope_sql = _where(scope, cursor_args)
        cursor_args.append(page.starting_after)
        cursor = await conn.fetchrow(
            f"SELECT created_at, id FROM {table} WHERE {scope_sql} AND id = ${len(cursor_args)}",
            *cursor_args,
        )
        if cursor is None:
            return None
        after = [cursor["created_at"], cursor["id"]]

    count_args: list[Any] = []
    where = _where([*scope, *filters], count_args)
    total = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *count_args)

    page_args = list(count_args)
    keyset = ""
    if after:
        page_args += after
        keyset = f" AND (created_at, id) > (${len(page_args) - 1}, ${len(page_args)})"
    page_args.append(page.limit + 1)
    rows = await conn.fetch(
        f"SELECT {columns} FROM {table} WHERE {where}{keyset} "
        f"ORDER BY created_at, id LIMIT ${len(page_args)}",
        *page_args,
    )
    return RawPage(rows=rows[: page.limit], has_more=len(rows) > page.limit, total=int(total))
