"""Statements written once in SQLAlchemy Core, compiled once at import for each database.

A ``Statement`` holds, per dialect, the SQL text and how to bind it: the order of asyncpg's
``$n`` parameters, or sqlite3's ``:name`` mapping, plus the literals the statement binds
itself. At call time only values are bound: no ORM, no compilation on any request.

``Executor`` is what a repository runs statements on: each backend's runner (``postgres/`` and
``sqlite/``) and the executor it hands to ``transaction``/``snapshot`` work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import BindTyping
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from imprint_sessions.storage.dialect import id_text

T = TypeVar("T")
Row = Any  # asyncpg.Record or sqlite3.Row: both map column labels (and positions) to values

_POSTGRESQL = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
_POSTGRESQL.bind_typing = BindTyping.NONE  # no "$1::VARCHAR": PostgreSQL infers, as before
_SQLITE = sqlite.dialect(paramstyle="named")


class Compiled:
    """One statement's SQL for one dialect and what it needs bound."""

    __slots__ = ("defaults", "names", "sql", "writes")

    def __init__(self, clause: ClauseElement, dialect: sa.Dialect) -> None:
        compiled = clause.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Values the statement binds itself (literals, LIMIT's OFFSET 0): not the caller's.
        names = compiled.bind_names
        self.defaults: dict[str, Any] = {
            names[bind]: bind.value for bind in compiled.binds.values() if not bind.required
        }
        self.writes: bool = bool(compiled.isinsert or compiled.isupdate or compiled.isdelete)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """asyncpg's positional arguments."""
        defaults = self.defaults
        return [params[n] if n in params else defaults[n] for n in self.names]

    def mapping(self, params: dict[str, Any]) -> dict[str, Any]:
        """sqlite3's named parameters."""
        return {**self.defaults, **params} if self.defaults else params


class Statement:
    """A Core statement compiled for PostgreSQL and (unless ``sqlite=False``) SQLite."""

    __slots__ = ("clause", "postgresql", "sqlite")

    def __init__(self, clause: ClauseElement, *, sqlite: bool = True) -> None:
        self.clause = clause
        self.postgresql = Compiled(clause, _POSTGRESQL)
        self.sqlite = Compiled(clause, _SQLITE) if sqlite else None


def bp(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    """A named parameter the caller binds (``required``: never a literal)."""
    return sa.bindparam(name, type_=type_, required=True)


def names(spaced: str) -> list[str]:
    """The space-separated names in ``spaced`` (column lists one may read on one line)."""
    return spaced.split()


def params(names: str) -> dict[str, sa.BindParameter[Any]]:
    """A parameter for each of the space-separated ``names``, by name (an INSERT's values)."""
    return {name: bp(name) for name in names.split()}


def values_of(record: Any, names: str) -> dict[str, Any]:
    """The parameters ``params(names)`` binds, from the record's fields of the same names (or
    ``<name>_json``, for JSON stored as text)."""
    return {
        name: getattr(record, name) if hasattr(record, name) else getattr(record, f"{name}_json")
        for name in names.split()
    }


def columns(table: sa.Table, names: str, **labels: str) -> tuple[sa.ColumnElement[Any], ...]:
    """``table``'s space-separated columns ``names`` as reads select them: ids as the API's
    text (``dialect.id_text``), each under its own name or the label ``labels`` gives it."""
    selected: list[sa.ColumnElement[Any]] = []
    for name in names.split():
        column, label = table.c[name], labels.get(name)
        if isinstance(column.type, sa.Uuid):
            selected.append(id_text(column).label(label or name))
        else:
            selected.append(column.label(label) if label else column)
    return tuple(selected)


def every_column(
    table: sa.Table, *, omit: tuple[str, ...] = (), **labels: str
) -> tuple[sa.ColumnElement[Any], ...]:
    """``columns`` of every column of ``table`` but ``omit``, in its order: a read of the whole
    row, so a column added to the table (and its record) is read without naming it here."""
    kept = (column.name for column in table.columns if column.name not in omit)
    return columns(table, " ".join(kept), **labels)


def every_param(table: sa.Table) -> dict[str, sa.BindParameter[Any]]:
    """``params`` for every column of ``table``: an INSERT of the whole row."""
    return {column.name: bp(column.name) for column in table.columns}


def lit(value: str | int) -> sa.ColumnElement[Any]:
    """A constant of the code (a status, a step of 1), written into the SQL, not bound."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)), sa.Integer)
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.Text)


class Executor(Protocol):
    """Runs statements: each alone (autocommit) on a runner, or inside the work it was given."""

    @property
    def dialect(self) -> str: ...

    async def one(self, statement: Statement, **params: Any) -> Row | None: ...

    async def all(self, statement: Statement, **params: Any) -> list[Row]: ...

    async def count(self, statement: Statement, **params: Any) -> int:
        """Run a write; the number of rows it changed."""
        ...


class Runner(Executor, Protocol):
    async def transaction(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        """``work``'s statements in one transaction (the unit of work's, when inside one).

        On SQLite the work runs on the connection's thread in one hop: it must await nothing
        but the executor's statements."""
        ...

    async def snapshot(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        """Several reads on one connection (one pool checkout; one read snapshot on SQLite)."""
        ...

    async def ping(self) -> None:
        """Readiness: the database answers (else ``ServiceUnavailable``)."""
        ...


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (its statements execute in place) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("SQLite work awaited something other than its executor's statements")


class Repository:
    """Base of the per-resource repository mixins: statements over one backend's ``Runner``."""

    def __init__(self, runner: Runner) -> None:
        self._db = runner
