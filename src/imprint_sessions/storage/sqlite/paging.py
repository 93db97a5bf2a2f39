"""Keyset pagination on SQLite: one page by ``(created_at, id)``, its total, its cursor.

Runs on the connection's thread in one hop, inside one read transaction, so the cursor, the page
and the total agree with each other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from imprint_sessions.storage.records import Page, PageRequest

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``AND``-ed SQL condition; ``sql`` holds ``{}`` where its ``?`` placeholders go."""

    sql: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RawPage:
    rows: list[sqlite3.Row]
    has_more: bool
    total: int

    def to_page(self, convert: Callable[[sqlite3.Row], T]) -> Page[T]:
        """The page of records: every repository's lists end here."""
        return Page([convert(row) for row in self.rows], has_more=self.has_more, total=self.total)


def eq(column: str, value: Any) -> Condition:
    return Condition(f"{column} = ?", (value,))


def any_of(column: str, values: Sequence[Any]) -> Condition:
    return Condition(f"{column} IN ({', '.join('?' * len(values))})", tuple(values))


def _where(conditions: Sequence[Condition]) -> tuple[str, list[Any]]:
    args: list[Any] = []
    for condition in conditions:
        args += condition.values
    return " AND ".join(c.sql for c in conditions), args


def fetch_page(
    conn: sqlite3.Connection,
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
    own_transaction = not conn.in_transaction
    if own_transaction:
        conn.execute("BEGIN")  # deferred: a read snapshot, no write lock
    try:
        return _fetch_page(conn, table, columns, scope, filters, page)
    finally:
        if own_transaction:
            conn.execute("COMMIT")


def _fetch_page(
    conn: sqlite3.Connection,
    table: str,
    columns: str,
    scope: Sequence[Condition],
    filters: Sequence[Condition],
    page: PageRequest,
) -> RawPage | None:
    keyset = ""
    after: list[Any] = []
    if page.starting_after is not None:
        scope_sql, scope_args = _where(scope)
        cursor = conn.execute(
            f"SELECT created_at, id FROM {table} WHERE {scope_sql} AND id = ?",
            (*scope_args, page.starting_after),
        ).fetchone()
        if cursor is None:
            return None
        keyset = " AND (created_at, id) > (?, ?)"
        after = [cursor[0], cursor[1]]
    where, args = _where([*scope, *filters])
    total = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()[0]
    rows = conn.execute(
        f"SELECT {columns} FROM {table} WHERE {where}{keyset} ORDER BY created_at, id LIMIT ?",
        (*args, *after, page.limit + 1),
    ).fetchall()
    return RawPage(rows=rows[: page.limit], has_more=len(rows) > page.limit, total=int(total))
