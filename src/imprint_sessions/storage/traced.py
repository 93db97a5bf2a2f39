"""A runner that opens a span around every statement: the store's side of tracing.

The store knows no tracing library: it is handed a ``SpanFactory`` (``observability.tracing``
builds one over OpenTelemetry) and wraps the backend's runner only when tracing is on, so a
service without tracing runs its statements exactly as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from imprint_sessions.storage.sql import Executor, Row, Runner, Statement

T = TypeVar("T")


class SpanFactory(Protocol):
    def __call__(self, name: str, attributes: dict[str, str]) -> AbstractContextManager[Any]: ...


def _operation(sql: str) -> str:
    """The statement's first keyword (``SELECT``, ``INSERT``, ``WITH``, ...)."""
    return sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"


class TracedExecutor:
    """``Executor`` whose every statement runs inside a span."""

    def __init__(self, inner: Executor, spans: SpanFactory) -> None:
        self._inner = inner
        self._spans = spans

    @property
    def dialect(self) -> str:
        return self._inner.dialect

    def _span(self, statement: Statement) -> AbstractContextManager[Any]:
        dialect = self._inner.dialect
        compiled = statement.postgresql if dialect == "postgresql" else statement.sqlite
        sql = compiled.sql if compiled is not None else ""
        operation = _operation(sql)
        return self._spans(
            f"{operation} {dialect}",
            {"db.system": dialect, "db.operation.name": operation, "db.query.text": sql},
        )

    async def one(self, statement: Statement, **params: Any) -> Row | None:
        with self._span(statement):
            return await self._inner.one(statement, **params)

    async def all(self, statement: Statement, **params: Any) -> list[Row]:
        with self._span(statement):
            return await self._inner.all(statement, **params)

    async def count(self, statement: Statement, **params: Any) -> int:
        with self._span(statement):
            return await self._inner.count(statement, **params)


class TracedRunner(TracedExecutor):
    """``Runner`` whose statements, and those of its transactions and snapshots, run in spans."""

    def __init__(self, inner: Runner, spans: SpanFactory) -> None:
        super().__init__(inner, spans)
        self._runner = inner

    async def transaction(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        return await self._runner.transaction(lambda ex: work(TracedExecutor(ex, self._spans)))

    async def snapshot(self, work: Callable[[Executor], Awaitable[T]]) -> T:
        return await self._runner.snapshot(lambda ex: work(TracedExecutor(ex, self._spans)))

    async def ping(self) -> None:
        await self._runner.ping()


def wrapper(spans: SpanFactory | None) -> Callable[[Runner], Runner]:
    """What a database applies to each runner it makes: tracing, or nothing."""
    if spans is None:
        return lambda runner: runner
    return lambda runner: TracedRunner(runner, spans)
