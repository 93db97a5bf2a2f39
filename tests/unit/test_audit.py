"""The audit trail's pure parts: on PostgreSQL each hot path stays one statement with its entry;
entry ids sort in the order they were made; time filters round exactly; type filters parse."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from typing import Any

import pytest

from imprint_sessions.credentials import new_id
from imprint_sessions.domain import audit
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.postgres.runner import Runner
from imprint_sessions.storage.records import AuditContext, NewCustomer, NewCustomerSession
from imprint_sessions.storage.store import SqlRepositories
from imprint_sessions.validation import rfc3339_epoch_ms

SESSION_ROW = {
    "id": "2EE24580-B97B-4949-A65C-929CCB9B9B8D",
    "partner_id": "0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D",
    "customer_id": "AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA",
    "secret_key_id": "k1",
    "source": None,
    "metadata_json": None,
    "created_at": 1,
    "expires_at": 2,
    "consumed_at": 1,
    "revoked_at": None,
}


class RecordingConnection:
    """Stands in for an asyncpg connection inside a transaction: records what it is sent and
    answers every statement with one row."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any]:
        self.sent.append(sql)
        return dict(SESSION_ROW)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [await self.fetchrow(sql, *args)]

    async def execute(self, sql: str, *args: Any) -> str:
        self.sent.append(sql)
        return "INSERT 0 1"


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("a statement waited on something")


def sent_by(method: str, *args: Any, **kwargs: Any) -> list[str]:
    connection = RecordingConnection()
    repos = SqlRepositories(Runner(None, 1.0, connection))  # type: ignore[arg-type]
    run(getattr(repos, method)(*args, **kwargs))
    return connection.sent


def entry(event_type: str) -> Any:
    return audit.new_event(
        AuditContext(actor_type="api_key", actor_id=new_id(), request_id="req_1"),
        type=event_type,
        object_type="customer_session",
        object_id=SESSION_ROW["id"],
        at=1,
        partner_id=SESSION_ROW["partner_id"],
    )


def new_session(**ids: str | None) -> NewCustomerSession:
    return NewCustomerSession(
        id=SESSION_ROW["id"],
        partner_id=SESSION_ROW["partner_id"],
        customer_id=ids.get("customer_id"),
        partner_customer_id=ids.get("partner_customer_id"),
        new_customer=NewCustomer(id=new_id()),
        merchant_key=None,
        secret_key_id="k1",
        transaction_amount=None,
        transaction_currency=None,
        customer_history_json=None,
        source=None,
        metadata_json=None,
        created_at=1,
        expires_at=2,
    )


@pytest.mark.parametrize(
    "ids",
    [{}, {"partner_customer_id": "CUST_1"}, {"customer_id": SESSION_ROW["customer_id"]}],
    ids=["new customer", "partner_customer_id", "customer_id"],
)
def test_create_session_with_its_entry_is_one_statement_on_postgresql(ids: dict[str, str]) -> None:
    (sql,) = sent_by(
        "create_customer_session", new_session(**ids), audit=entry("customer_session.created")
    )
    assert "INSERT INTO customer_sessions" in sql
    assert "INSERT INTO audit_events" in sql


def test_the_exchange_with_its_entry_is_one_statement_on_postgresql() -> None:
    (sql,) = sent_by(
        "consume_customer_session",
        SESSION_ROW["id"],
        now=1,
        audit=entry("customer_session.exchanged"),
    )
    assert "UPDATE customer_sessions SET consumed_at" in sql
    assert "INSERT INTO audit_events" in sql


def test_without_an_entry_the_hot_paths_send_their_plain_single_statement() -> None:
    """A repository call with no entry (a test writing rows of its own) writes none."""
    (create,) = sent_by("create_customer_session", new_session(partner_customer_id="CUST_1"))
    (consume,) = sent_by("consume_customer_session", SESSION_ROW["id"], now=1)
    assert "audit_events" not in create + consume


def test_entry_ids_are_uuid7_and_sort_in_the_order_they_were_made() -> None:
    made = [audit.ordered_id() for _ in range(5000)]  # several per millisecond
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert {uuid.UUID(i).version for i in made} == {7}
    assert all(i == i.upper() for i in made)


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.001Z", 1),
        ("1970-01-01T00:00:00.0005Z", 1),  # rounded up: x >= 0.5 ms holds for x >= 1
        ("1970-01-01T00:00:00.000000001Z", 1),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1969-12-31T23:59:59.9995Z", 0),
        ("2025-02-13T19:08:07.123Z", 1_739_473_687_123),
    ],
)
def test_a_time_filter_rounds_up_to_the_stored_millisecond(value: str, ms: int) -> None:
    assert rfc3339_epoch_ms(value) == ms


def test_a_time_filter_refuses_what_is_not_rfc_3339() -> None:
    for value in ("2025-02-13", "2025-02-13 19:08:07Z", "yesterday", "2025-02-30T00:00:00Z"):
        with pytest.raises(ValueError):  # noqa: PT011 - the parser's one error
            rfc3339_epoch_ms(value)


def test_type_filters_repeat_or_split_on_commas_and_refuse_unknown_types() -> None:
    assert audit.event_types([]) is None
    assert audit.event_types(["", " , "]) is None
    assert audit.event_types(["api_key.revoked, api_key.created", "api_key.created"]) == (
        "api_key.created",
        "api_key.revoked",
    )
    with pytest.raises(InvalidRequest):
        audit.event_types(["api_key.created,api_key.deleted"])


def test_filters_name_their_parameters_as_the_caller_calls_them() -> None:
    with pytest.raises(InvalidRequest) as refused:
        audit.audit_query(
            types=["nope"],
            object_id="nope",
            created_gte="nope",
            created_lt="nope",
            names={
                "type": "--type",
                "object_id": "--object-id",
                "created_gte": "--since",
                "created_lt": "--until",
            },
        )
    assert [d.split(":")[0] for d in refused.value.details] == [
        "--type",
        "--object-id",
        "--since",
        "--until",
    ]


def test_an_operator_without_a_login_is_recorded_without_a_name() -> None:
    assert audit.operator_actor(None) == AuditContext(actor_type="cli")
    assert audit.operator_actor("ada").actor_display == "ada"
