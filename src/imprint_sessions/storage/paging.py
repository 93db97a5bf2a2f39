"""Keyset pagination: one page by ``(created_at, id)``, its total, its cursor.

The cursor row, the count and the page are read in one ``snapshot`` (one pool checkout on
PostgreSQL, where ``total`` may then differ by rows written in between, every page still exact
and stable; one hop in one read transaction on SQLite). Each combination of filters a caller
uses is compiled once, the first time it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from imprint_sessions.storage.records import Page, PageRequest
from imprint_sessions.storage.sql import Executor, Row, Runner, Statement, bp

T = TypeVar("T")
Condition = Callable[[sa.BindParameter[Any]], sa.ColumnElement[Any]]


@dataclass(frozen=True, slots=True)
class _Statements:
    cursor: Statement
    count: Statement
    first: Statement
    after: Statement


class Pager(Generic[T]):
    """Pages of ``table`` rows as ``columns`` converted by ``convert``, within the ``scope``
    columns (each bound by its name) and matching the named optional ``filters``."""

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[sa.ColumnElement[Any]],
        convert: Callable[[Row], T],
        *,
        scope: Sequence[str],
        filters: Mapping[str, Condition] | None = None,
        newest_first: bool = False,
    ) -> None:
        self._newest_first = newest_first
        self._table = table
        self._columns = tuple(columns)
        self._convert = convert
        self._scope = tuple(scope)
        self._filters = dict(filters or {})
        self._statements = cache(self._compile)
        self._statements(())  # the unfiltered shape, compiled at import

    def _compile(self, active: tuple[str, ...]) -> _Statements:
        t = self._table.c
        scope = [t[name] == bp(name) for name in self._scope]
        where = [*scope, *(self._filters[name](bp(name)) for name in active)]
        order = (t.created_at.desc(), t.id.desc()) if self._newest_first else (t.created_at, t.id)
        ordered = sa.select(*self._columns).where(*where).order_by(*order)
        row = sa.tuple_(t.created_at, t.id)
        cursor = sa.tuple_(bp("after_created_at"), bp("after_id"))
        keyset = row < cursor if self._newest_first else row > cursor
        return _Statements(
            cursor=Statement(sa.select(t.created_at, t.id).where(*scope, t.id == bp("cursor"))),
            count=Statement(sa.select(sa.func.count()).select_from(self._table).where(*where)),
            first=Statement(ordered.limit(bp("limit"))),
            after=Statement(ordered.where(keyset).limit(bp("limit"))),
        )

    async def fetch(
        self,
        db: Runner,
        page: PageRequest,
        scope: Mapping[str, Any],
        filters: Mapping[str, Any] | None = None,
    ) -> Page[T] | None:
        """The page after ``page.starting_after``, which must be a row in ``scope`` (filters
        aside); None when it is not. ``filters``: the values of the filters to apply."""
        filters = filters or {}
        statements = self._statements(tuple(sorted(filters)))

        async def read(x: Executor) -> tuple[list[Row], int] | None:
            params = {**scope, **filters, "limit": page.limit + 1}
            query = statements.first
            if page.starting_after is not None:
                cursor = await x.one(statements.cursor, **scope, cursor=page.starting_after)
                if cursor is None:
                    return None
                params["after_created_at"], params["after_id"] = cursor[0], cursor[1]
                query = statements.after
            total = await x.one(statements.count, **scope, **filters)
            assert total is not None
            return await x.all(query, **params), int(total[0])

        found = await db.snapshot(read)
        if found is None:
            return None
        rows, total = found
        return Page(
            [self._convert(row) for row in rows[: page.limit]],
            has_more=len(rows) > page.limit,
            total=total,
        )

    async def scan(
        self,
        db: Runner,
        scope: Mapping[str, Any],
        filters: Mapping[str, Any] | None = None,
        *,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[T]:
        """Up to ``limit`` rows after the one at ``after`` (its ``created_at`` and id; None: from
        the first), with no cursor lookup and no count: one statement per page of a long walk
        (an export), however many rows match."""
        filters = filters or {}
        statements = self._statements(tuple(sorted(filters)))
        params = {**scope, **filters, "limit": limit}
        if after is None:
            return [self._convert(row) for row in await db.all(statements.first, **params)]
        params["after_created_at"], params["after_id"] = after
        return [self._convert(row) for row in await db.all(statements.after, **params)]
