"""The few truly dialect-specific pieces of SQL, as constructs each dialect renders its own way.

Everything else is written once over ``tables.py`` and compiled for both databases (``sql.py``).
Each construct here renders the PostgreSQL spelling and the SQLite one of the same meaning:

- ``id_text(column)``: a UUID column as the API's uppercase text (native ``uuid`` on PostgreSQL;
  SQLite stores that text already).
- ``in_texts(column, values)``: ``column`` is one of the list bound as ``values`` (a
  ``TextList``): ``= ANY($n::text[])`` (``uuid[]`` for an id column) / ``IN (SELECT value FROM
  json_each(?))``, one statement for any length.
- ``json_array_contains(column, value)``: a JSON-array text column holds ``value``.
- ``json_with_key(column, key, value)``: a JSON-object text column with ``key`` set to ``value``.
- ``xact_lock(a, b)``: PostgreSQL's transaction-scoped advisory lock on ``a/b``; on SQLite a unit
  of work is ``BEGIN IMMEDIATE``, which already holds the one write lock, so it is ``SELECT 1``.
- ``correlated(subquery)``: a subquery in an ``UPDATE ... RETURNING`` that keeps its columns
  qualified (SQLAlchemy's SQLite RETURNING drops them); ``UNIQUE_VIOLATION``: what each driver
  raises for a broken unique constraint.

Upserts (``insert(...).on_conflict_do_*``, the PostgreSQL construct, which SQLite's compiler
renders too), ``RETURNING`` and ``with_for_update`` (``FOR UPDATE [SKIP LOCKED]``; nothing on
SQLite, whose writers are serialised) need no helper. Statements only PostgreSQL can run (writes
inside a CTE: create-session in one round trip) are compiled for it alone (``Statement(...,
sqlite=False)``) and chosen by ``WRITABLE_CTES``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

# What a broken unique constraint raises (asyncpg; sqlite3, which does not say which constraint).
UNIQUE_VIOLATION = (asyncpg.UniqueViolationError, sqlite3.IntegrityError)

# Whether the dialect runs INSERT/UPDATE inside a WITH (PostgreSQL does; SQLite does not).
WRITABLE_CTES = {"postgresql": True, "sqlite": False}


class TextList(tuple[str, ...]):
    """A list of texts bound as one parameter: a ``text[]`` for asyncpg, JSON for sqlite3."""

    __slots__ = ()


sqlite3.register_adapter(TextList, lambda values: json.dumps(list(values)))


class id_text(FunctionElement[str]):
    type = sa.Text()
    inherit_cache = True


@compiles(id_text, "postgresql")
def _id_text_pg(element: id_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"upper(CAST({compiler.process(element.clauses, **kw)} AS TEXT))"


@compiles(id_text, "sqlite")
def _id_text_sqlite(element: id_text, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


class in_texts(FunctionElement[Any]):
    type = NullType()  # not Boolean: SQLite would be given "... = 1"
    inherit_cache = True


@compiles(in_texts, "postgresql")
def _in_texts_pg(element: in_texts, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = element.clauses
    column_sql, values_sql = compiler.process(column, **kw), compiler.process(values, **kw)
    array = "UUID[]" if isinstance(column.type, sa.Uuid) else "TEXT[]"
    return f"{column_sql} = ANY(CAST({values_sql} AS {array}))"


@compiles(in_texts, "sqlite")
def _in_texts_sqlite(element: in_texts, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = element.clauses
    return (
        f"{compiler.process(column, **kw)} IN "
        f"(SELECT value FROM json_each({compiler.process(values, **kw)}))"
    )


class json_array_contains(FunctionElement[Any]):
    type = NullType()
    inherit_cache = True


@compiles(json_array_contains, "postgresql")
def _json_array_contains_pg(element: json_array_contains, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({column} AS JSONB) ? {value})"


@compiles(json_array_contains, "sqlite")
def _json_array_contains_sqlite(
    element: json_array_contains, compiler: SQLCompiler, **kw: Any
) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = {value})"


class json_with_key(FunctionElement[str]):
    type = sa.Text()
    inherit_cache = True


@compiles(json_with_key, "postgresql")
def _json_with_key_pg(element: json_with_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, key, value = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"CAST(CAST({column} AS JSONB) || jsonb_build_object(CAST({key} AS TEXT), "
        f"CAST({value} AS TEXT)) AS TEXT)"
    )


@compiles(json_with_key, "sqlite")
def _json_with_key_sqlite(element: json_with_key, compiler: SQLCompiler, **kw: Any) -> str:
    column, key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_patch({column}, json_object({key}, {value}))"


class xact_lock(FunctionElement[int]):
    type = sa.Integer()
    inherit_cache = True


@compiles(xact_lock, "postgresql")
def _xact_lock_pg(element: xact_lock, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"pg_advisory_xact_lock(hashtextextended(CAST({a} AS TEXT) || '/' || CAST({b} AS TEXT), 0))"
    )


@compiles(xact_lock, "sqlite")
def _xact_lock_sqlite(element: xact_lock, compiler: SQLCompiler, **kw: Any) -> str:
    return "1"


class correlated(FunctionElement[Any]):
    """A scalar subquery correlated with the row an ``UPDATE ... RETURNING`` returns.

    SQLAlchemy writes SQLite's RETURNING columns without their table, and passes that on into
    subqueries, where ``customer_id = customer_id`` would compare a column with itself; this
    keeps every column inside qualified (SQLite accepts them there).
    """

    type = NullType()
    inherit_cache = True


@compiles(correlated)
def _correlated(element: correlated, compiler: SQLCompiler, **kw: Any) -> str:
    kw.pop("include_table", None)
    (subquery,) = element.clauses
    return str(compiler.process(subquery, **kw))
