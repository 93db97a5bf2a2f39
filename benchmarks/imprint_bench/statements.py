"""The SQL the service sends, read from the service's own code at run time.

A repository method is called with a stand-in connection that records the statement and its
arguments instead of running them, so the statement text is whatever ``src/`` says today. The
arguments are sentinel values, one per field of the record the method is given, so each
``$N`` of the statement is known by name (the field it came from), whatever order it takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from imprint_bench.common import BenchError

_UPDATE = "update benchmarks/imprint_bench/statements.py"


@dataclass(frozen=True)
class Statement:
    """A statement and, for each of its parameters ($1, $2, ...), the field it carries."""

    sql: str
    params: list[str]


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits on anything (its I/O is done in place) to its end."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise BenchError(f"a repository call waited on something: {_UPDATE}")


class _RecordingConnection:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def _record(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))

    fetchrow = fetch = fetchval = execute = _record


def _first_statement(method: str, *args: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...]]:
    """The first statement ``SqlRepositories.<method>`` on PostgreSQL sends, with its arguments."""
    try:
        from imprint_sessions.storage.postgres.runner import Runner
        from imprint_sessions.storage.store import SqlRepositories

        connection = _RecordingConnection()
        # A runner inside a "transaction" on the recording connection: no pool is touched.
        runner = Runner(None, 1.0, connection)  # type: ignore[arg-type]
        repos = SqlRepositories(runner)
        call = getattr(repos, method)(*args, **kwargs)
    except (ImportError, AttributeError, TypeError) as exc:
        raise BenchError(f"cannot call SqlRepositories.{method}: {exc}; {_UPDATE}") from exc
    # Nothing answers, so the method may go on to fail (no row): only what it sent matters.
    try:
        drive(call)
    except BenchError:
        raise
    except Exception:
        pass
    if not connection.calls:
        raise BenchError(f"SqlRepositories.{method} on PostgreSQL sent no statement; {_UPDATE}")
    return connection.calls[0]


class _Sentinels:
    """Distinct stand-in values, each remembered with the field it stands for."""

    def __init__(self) -> None:
        self.fields: dict[Any, str] = {}

    def text(self, name: str) -> str:
        value = f"<{name}>"
        self.fields[value] = name
        return value

    def number(self, name: str) -> int:
        value = 7_000_000_000_000 + len(self.fields)
        self.fields[value] = name
        return value

    def record(self, cls: Any, prefix: str = "", **fixed: Any) -> Any:
        """An instance of the dataclass ``cls`` with a sentinel in every field not ``fixed``."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = prefix + field.name
            if field.name in fixed:
                values[field.name] = fixed[field.name]
            elif str(field.type).startswith("int"):
                values[field.name] = self.number(name)
            else:
                values[field.name] = self.text(name)
        return cls(**values)

    def statement(self, sql: str, args: tuple[Any, ...], what: str) -> Statement:
        params = []
        for n, arg in enumerate(args, 1):
            if arg not in self.fields:
                raise BenchError(f"{what}: ${n} ({arg!r}) is not one of its inputs; {_UPDATE}")
            params.append(self.fields[arg])
        return Statement(" ".join(sql.split()), params)


def _audit_entry(s: _Sentinels) -> Any:
    """The audit entry the partner API hands the repository with the action (``audit.*``)."""
    from imprint_sessions.storage.records import AuditContext, NewAuditEvent

    return s.record(NewAuditEvent, "audit.", context=s.record(AuditContext, "audit."))


def create_session_statement() -> Statement:
    """What the service sends to create a session for a partner_customer_id (found or new),
    with its audit entry."""
    from imprint_sessions.storage.records import NewCustomer, NewCustomerSession

    s = _Sentinels()
    customer = s.record(NewCustomer, "new_customer.")
    new = s.record(NewCustomerSession, new_customer=customer, customer_id=None)
    new = dataclasses.replace(new, partner_customer_id=s.text("partner_customer_id"))
    sql, args = _first_statement("create_customer_session", new, audit=_audit_entry(s))
    return s.statement(sql, args, "create-session")


def get_session_statement() -> Statement:
    """What the service sends for GET /v2/customer_sessions/{id}."""
    s = _Sentinels()
    sql, args = _first_statement(
        "get_customer_session",
        partner_id=s.text("partner_id"),
        customer_session_id=s.text("id"),
    )
    return s.statement(sql, args, "get-session")


def consume_session_statement() -> Statement:
    """What the service sends to redeem a client_secret (POST /v2/client/exchange)."""
    s = _Sentinels()
    sql, args = _first_statement(
        "consume_customer_session", s.text("id"), now=s.number("now"), audit=_audit_entry(s)
    )
    return s.statement(sql, args, "exchange")


# The audit entry's fields a benchmark fills with what the partner API writes (the others are
# ids, the template session's partner and time, or the run's own).
AUDIT_VALUES = {
    "audit.actor_type": "'api_key'",
    "audit.actor_id": "'7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F'",
    "audit.actor_display": "'isk_test_bnch'",
    "audit.request_id": "'req_0123456789abcdef01234567'",
    "audit.client_address": "'127.0.0.1'",
    "audit.object_type": "'customer_session'",
    "audit.details_json": "'{}'",
}


def column_of(field: str) -> tuple[str, str]:
    """The table alias ("s": the session, "c": its customer) and column a record field is
    stored in: ``new_customer.address_json`` -> ("c", "address"), ``metadata_json`` ->
    ("s", "metadata")."""
    table = "s"
    if field.startswith("new_customer."):
        table, field = "c", field.removeprefix("new_customer.")
    # The audit entry's partner and time are its session's.
    field = field.removeprefix("audit.")
    return table, field.removesuffix("_json")
