"""The serializers generated from the wire models write exactly what the models say."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from imprint_sessions.domain.customer_sessions import IssuedCustomerSession
from imprint_sessions.storage import records
from imprint_sessions.wire import partner as rendering
from imprint_sessions.wire import webhooks
from imprint_sessions.wire.serializers import From, Serializer, serializer
from imprint_sessions.wire.webhooks import EndpointView

text = st.text(max_size=12)
maybe_text = st.none() | text
millis = st.integers(min_value=0, max_value=253_402_300_799_000)  # up to year 9999
maybe_millis = st.none() | millis
json_text = st.dictionaries(
    st.text(min_size=1, max_size=8), st.text(max_size=8) | st.integers(-(10**9), 10**9), max_size=4
).map(lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=False))
maybe_json = st.none() | json_text
dates = st.dates().map(lambda day: day.isoformat())
cards = st.fixed_dictionaries(
    {"last4": st.from_regex(r"\A[0-9]{4}\Z"), "number": st.from_regex(r"\A[0-9]{16}\Z")},
    optional={"network": st.sampled_from(["VISA", "MASTERCARD"]), "cvv": text},
).map(json.dumps)

customers = st.builds(
    records.Customer,
    id=text,
    partner_id=text,
    partner_customer_id=maybe_text,
    email=maybe_text,
    phone=maybe_text,
    phone_verified_at=maybe_millis,
    first_name=maybe_text,
    last_name=maybe_text,
    preferred_language=maybe_text,
    date_of_birth=st.none() | dates,
    address_json=st.none()
    | st.fixed_dictionaries({}, optional={"city": text, "country": st.just("USA")}).map(json.dumps),
    statuses_json=st.sampled_from(['{"acme_rewards":"OPEN"}', "{}"]),
    created_at=millis,
    updated_at=millis,
    ssn4=st.none() | st.from_regex(r"\A[0-9]{4}\Z"),
    metadata_json=maybe_json,
)
payment_methods = st.builds(
    records.PaymentMethod,
    id=text,
    partner_id=text,
    customer_id=text,
    application_id=maybe_text,
    type=st.sampled_from(["CARD", "LOAN"]),
    status=st.sampled_from(["ACTIVE", "INACTIVE", "CANCELED"]),
    card_json=st.none() | cards,
    loan_json=st.none() | st.just('{"amount":120000,"currency":"USD","secret":"x"}'),
    metadata_json=maybe_json,
    created_at=millis,
    updated_at=millis,
)
sessions = st.builds(
    records.CustomerSession,
    id=text,
    partner_id=text,
    customer_id=text,
    secret_key_id=text,
    source=maybe_text,
    metadata_json=maybe_json,
    created_at=millis,
    expires_at=millis,
    consumed_at=maybe_millis,
    revoked_at=maybe_millis,
)
issued = st.builds(
    IssuedCustomerSession,
    id=text,
    client_secret=text,
    expires_at=millis,
    metadata_json=maybe_json,
    source=maybe_text,
)


def pages(items: st.SearchStrategy[Any]) -> st.SearchStrategy[records.Page[Any]]:
    return st.builds(
        records.Page,
        items=st.lists(items, max_size=3),
        has_more=st.booleans(),
        total=st.integers(0),
    )


endpoints = st.builds(
    records.WebhookEndpoint,
    id=text,
    partner_id=text,
    url=text,
    event_types=st.lists(st.sampled_from(["APPLICATION", "PAYMENT_METHOD"]), max_size=2).map(tuple),
    status=st.sampled_from(["enabled", "disabled"]),
    secret_version=st.integers(1, 9),
    secret_key_id=text,
    previous_secret_version=st.none() | st.integers(1, 9),
    previous_secret_key_id=maybe_text,
    previous_secret_expires_at=maybe_millis,
    created_at=millis,
    updated_at=millis,
)
now = millis
endpoint_views = st.builds(EndpointView, now=millis, secret=maybe_text)

CASES: list[tuple[Serializer[Any], st.SearchStrategy[Any], st.SearchStrategy[Any]]] = [
    (rendering.CUSTOMER, customers, now),
    (rendering.CUSTOMER_LIST, pages(customers), now),
    (rendering.PAYMENT_METHOD, payment_methods, now),
    (rendering.PAYMENT_METHOD_LIST, pages(payment_methods), now),
    (rendering.CUSTOMER_SESSION, issued, now),
    (rendering.CUSTOMER_SESSION_SUMMARY, sessions, now),
    (rendering.CUSTOMER_SESSION_LIST, pages(sessions), now),
    (webhooks.ENDPOINT, endpoints, endpoint_views),
    (webhooks.ENDPOINT_LIST, pages(endpoints), endpoint_views),
]


def nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(nulls(v) for v in value)
    return False


@pytest.mark.parametrize(
    ("write", "records_of", "contexts"),
    CASES,
    ids=[write.model.__name__ for write, _, _ in CASES],
)
def test_generated_serializer_writes_what_the_models_own_serializer_writes(
    write: Serializer[Any], records_of: st.SearchStrategy[Any], contexts: st.SearchStrategy[Any]
) -> None:
    """Byte for byte: the model validates the output, and dumping it gives the same bytes."""

    @settings(max_examples=150, deadline=None)
    @given(record=records_of, context=contexts)
    def check(record: Any, context: Any) -> None:
        written = write(record, context)
        model = write.model.model_validate_json(written)
        assert model.model_dump_json(exclude_none=True).encode() == written
        assert not nulls(json.loads(written)), "an optional field is left out, never null"

    check()


def test_nested_models_are_allowlists_of_the_stored_object() -> None:
    card = '{"last4":"4242","number":"4242424242424242","cvv":"123","network":"VISA"}'
    record = records.PaymentMethod(
        id="P", partner_id="X", customer_id="C", application_id=None, type="CARD",
        status="ACTIVE", card_json=card, loan_json=None, metadata_json=None,
        created_at=0, updated_at=1,
    )  # fmt: skip
    body = json.loads(rendering.PAYMENT_METHOD(record))
    assert body["card"] == {"last4": "4242", "network": "VISA"}
    assert body["metadata"] == {}
    assert "loan" not in body
    assert body["created_at"] == "1970-01-01T00:00:00.000Z"


def test_compute_reads_the_context() -> None:
    record = records.CustomerSession(
        id="S", partner_id="X", customer_id="C", secret_key_id="K", source=None,
        metadata_json='{"a":"b"}', created_at=0, expires_at=1_000, consumed_at=None,
        revoked_at=None,
    )  # fmt: skip
    assert json.loads(rendering.CUSTOMER_SESSION_SUMMARY(record, 999))["state"] == "active"
    assert json.loads(rendering.CUSTOMER_SESSION_SUMMARY(record, 1_000))["state"] == "expired"
    assert json.loads(rendering.CUSTOMER_SESSION_SUMMARY(record, 0))["metadata"] == {"a": "b"}


class _Shape(BaseModel):
    name: str
    nickname: Annotated[str | None, From("alias_text")] = None
    size: Annotated[int, From(convert=len)] = Field(description="how long the name is")


@dataclass
class _Record:
    name: str
    alias_text: str | None


def test_a_field_the_record_cannot_supply_fails_at_import_naming_it() -> None:
    with pytest.raises(TypeError, match=r"_Shape\.size: _Record has no attribute 'size'"):
        serializer(_Shape, record=_Record)


def test_from_names_the_attribute_and_the_conversion() -> None:
    @dataclass
    class Stored:
        name: str
        alias_text: str | None
        size: str

    write = serializer(_Shape, record=Stored)
    assert write(Stored("Ada", None, "four")) == b'{"name":"Ada","size":4}'
    quoted = write(Stored("Ada", 'say "hi"', ""))
    assert quoted == b'{"name":"Ada","nickname":"say \\"hi\\"","size":0}'
