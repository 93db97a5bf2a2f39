"""Unit tests for the field validators, the partner request schema and the 400 details they give."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import phonenumbers
import pycountry
import pydantic
import pytest
from email_validator import validate_email
from hypothesis import assume, example, given, reject
from hypothesis import strategies as st

from imprint_sessions.validation import (
    ADDRESS_LINE_MAX_LENGTH,
    COUNTRY_MESSAGE,
    CURRENCY_MESSAGE,
    EMAIL_MAX_LENGTH,
    EMAIL_MESSAGE,
    IDENTIFIER_MAX_LENGTH,
    INTEGER_MAX,
    LANGUAGE_MESSAGE,
    LOYALTY_TIER_MAX_LENGTH,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_BYTES,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX_CHARS,
    NAME_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    PHONE_MESSAGE,
    POSTAL_CODE_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TIMESTAMP_MESSAGE,
    is_common_email,
    parse_rfc3339_timestamp,
    validation_details,
)
from imprint_sessions.wire.partner import (
    CreateCustomerSessionRequest,
    CustomerSession,
    InvalidRequestError,
)

SEED_EXAMPLE: dict[str, Any] = {
    "customer_id": "AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA",
    "partner_customer_id": "CUST_03476998",
    "transaction_amount": 34000,
    "transaction_currency": "USD",
    "customer_history": {
        "email": "customer@example.com",
        "phone": "+14155552671",
        "first_name": "John",
        "last_name": "Doe",
        "preferred_language": "en",
        "address": {
            "street_line1": "123 Main St",
            "street_line2": "Apt 4B",
            "city": "San Francisco",
            "state": "CA",
            "postal_code": "94105",
            "country": "USA",
        },
        "account_tenure": 13,
        "ltv_amount": 34000,
        "ltv_currency": "USD",
        "loyalty_tier": "GOLD",
        "account_created_at": "2025-02-13T19:08:07.000Z",
        "transaction_count": 100,
    },
    "source": "web_signup",
    "metadata": {"store_number": "123"},
}


def details_for(body: bytes | dict[str, Any]) -> list[str]:
    """Validate like the hot path (raw JSON bytes) and return the 400 details; [] when valid."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        CreateCustomerSessionRequest.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        return validation_details(exc)
    return []


def history(**fields: Any) -> dict[str, Any]:
    return {"customer_history": fields}


def address(**fields: Any) -> dict[str, Any]:
    return history(address=fields)


# --- The seed's example and the empty body ---------------------------------------------------


def test_seed_example_body_is_valid() -> None:
    request = CreateCustomerSessionRequest.model_validate_json(json.dumps(SEED_EXAMPLE))

    assert request.model_dump(exclude_none=True) == SEED_EXAMPLE


def test_empty_object_is_valid_with_every_field_absent() -> None:
    request = CreateCustomerSessionRequest.model_validate_json(b"{}")

    assert request.model_dump(exclude_none=True) == {}


NULL_MESSAGE = "must not be null (leave the field out instead)"
H = "customer_history"


def test_explicit_null_for_every_optional_field_is_refused_field_by_field() -> None:
    # The seed types every field and never allows null, and the served spec says the same: a
    # null is refused like any other wrong type, each one named (schemathesis found it accepted).
    body: dict[str, Any] = {k: None for k in CreateCustomerSessionRequest.model_fields}
    body["customer_history"] = {
        "address": dict.fromkeys(SEED_EXAMPLE["customer_history"]["address"]),
        **{k: None for k in SEED_EXAMPLE["customer_history"] if k != "address"},
    }

    expected = [
        *(f"{k}: {NULL_MESSAGE}" for k in CreateCustomerSessionRequest.model_fields if k != H),
        *(f"{H}.address.{k}: {NULL_MESSAGE}" for k in SEED_EXAMPLE[H]["address"]),
        *(f"{H}.{k}: {NULL_MESSAGE}" for k in SEED_EXAMPLE[H] if k != "address"),
    ]
    assert sorted(details_for(body)) == sorted(expected)


def test_unknown_fields_are_ignored() -> None:
    body = {"partner_customer_id": "C1", "from_the_future": {"x": 1}, **history(shoe_size=42)}

    request = CreateCustomerSessionRequest.model_validate_json(json.dumps(body))

    assert request.model_dump(exclude_none=True) == {
        "partner_customer_id": "C1",
        "customer_history": {},
    }


def test_validating_does_not_consult_pycountry_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("pycountry consulted on the hot path")

        def __iter__(self) -> Any:
            raise AssertionError("pycountry scanned on the hot path")

    for database in ("languages", "countries", "currencies"):
        monkeypatch.setattr(pycountry, database, Exploding())

    assert details_for(SEED_EXAMPLE) == []
    assert details_for({"transaction_currency": "XYZ", "transaction_amount": 1}) == [
        f"transaction_currency: {CURRENCY_MESSAGE}"
    ]


# --- The body as a whole ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[]", b'"x"', b"3", b"null", b"true", b"[{}]"])
def test_non_object_body_is_rejected_as_body(raw: bytes) -> None:
    assert details_for(raw) == ["body: must be a JSON object"]


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a":}', b"{'a': 1}", b"\xff\xfe"])
def test_invalid_json_body_is_rejected_as_body(raw: bytes) -> None:
    assert details_for(raw) == ["body: must be valid JSON"]


def test_many_invalid_fields_are_all_reported_at_once() -> None:
    body = {
        "customer_id": "",
        "partner_customer_id": 5,
        "transaction_amount": 1.5,
        "transaction_currency": "usd",
        "customer_history": {
            "email": "not-an-email",
            "phone": "4155552671",
            "first_name": "x" * (NAME_MAX_LENGTH + 1),
            "preferred_language": "EN",
            "address": {"country": "US", "city": []},
            "account_tenure": -1,
            "ltv_currency": "USD",
            "account_created_at": "2025-02-13",
            "transaction_count": True,
        },
        "source": None,
        "metadata": {"": 1, "store_number": "x" * METADATA_VALUE_MAX_CHARS},
    }

    assert details_for(body) == [
        "customer_id: must not be empty",
        "partner_customer_id: must be a string",
        "transaction_amount: must be an integer",
        f"transaction_currency: {CURRENCY_MESSAGE}",
        f"customer_history.email: {EMAIL_MESSAGE}",
        f"customer_history.phone: {PHONE_MESSAGE}",
        f"customer_history.first_name: must be at most {NAME_MAX_LENGTH} characters",
        f"customer_history.preferred_language: {LANGUAGE_MESSAGE}",
        "customer_history.address.city: must be a string",
        f"customer_history.address.country: {COUNTRY_MESSAGE}",
        "customer_history.account_tenure: must be greater than or equal to 0",
        "customer_history.ltv_currency: requires ltv_amount",
        f"customer_history.account_created_at: {TIMESTAMP_MESSAGE}",
        "customer_history.transaction_count: must be an integer",
        f"source: {NULL_MESSAGE}",
        "metadata: keys must not be empty",
        "metadata.store_number: value must be at most 500 characters when serialized",
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"customer_history": []}, "customer_history: must be an object"),
        (history(address="x"), "customer_history.address: must be an object"),
        ({"metadata": ["a"]}, "metadata: must be an object"),
    ],
)
def test_non_object_nested_object_is_rejected(body: dict[str, Any], detail: str) -> None:
    assert details_for(body) == [detail]


# --- Email ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["customer@example.com", "first.last+tag@sub.example.co.uk"])
def test_well_formed_email_is_accepted(email: str) -> None:
    assert details_for(history(email=email)) == []


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@",
        "@example.com",
        "a b@example.com",
        "a@@example.com",
        "John <john@example.com>",
        "a@localhost",
        "a@example..com",
        "",
    ],
)
def test_malformed_email_is_rejected(email: str) -> None:
    assert details_for(history(email=email)) == [f"customer_history.email: {EMAIL_MESSAGE}"]


def test_email_is_echoed_as_sent_not_normalised() -> None:
    request = CreateCustomerSessionRequest.model_validate(history(email="Jane@Example.COM"))

    assert request.customer_history is not None
    assert request.customer_history.email == "Jane@Example.COM"


def test_email_over_max_length_is_rejected_by_length() -> None:
    email = "a" * 64 + "@" + "b" * (EMAIL_MAX_LENGTH - 64 - 4) + ".com"
    assert len(email) == EMAIL_MAX_LENGTH + 1

    assert details_for(history(email=email)) == [
        f"customer_history.email: must be at most {EMAIL_MAX_LENGTH} characters"
    ]


_LOCAL_CHARS = st.sampled_from("aZ09_+-.'!#~")
_LABEL_CHARS = st.sampled_from("aZ09-")
_EDGE_LABELS = ["xn--bcher-kva", "ab--cd", "a--b", "-a", "a-", "a" * 63, "a" * 64]
_TLDS = ["com", "io", "Co", "test", "localhost", "onion", "local", "arpa", "invalid", "123", "c"]


@st.composite
def email_like(draw: st.DrawFn) -> str:
    """Strings near the common address shape, edges included: special-use names, Punycode and
    ``--`` labels, hyphens at a label's ends, numeric TLDs, labels and parts over their limits."""
    local = draw(st.text(_LOCAL_CHARS, min_size=1, max_size=70))
    labels = draw(
        st.lists(
            st.one_of(
                st.text(_LABEL_CHARS, min_size=1, max_size=66), st.sampled_from(_EDGE_LABELS)
            ),
            max_size=4,
        )
    )
    tld = draw(st.one_of(st.sampled_from(_TLDS), st.text(_LABEL_CHARS, min_size=1, max_size=4)))
    padding = draw(st.sampled_from(["", "b" * 60 + ".", ("c" * 62 + ".") * 3]))
    return f"{local}@{padding}{''.join(label + '.' for label in labels)}{tld}"


@given(email_like())
@example("a" * 64 + "@" + ("b" * 62 + ".") * 3 + "com")  # 257 characters, past the limit
@example("a@ab--cd.com")
@example("a@example.test")
@example("a@" + "a" * 64 + ".io")
def test_every_address_the_fast_path_accepts_the_library_accepts(value: str) -> None:
    if is_common_email(value):
        validate_email(value, check_deliverability=False)  # raises if the library disagrees


@pytest.mark.parametrize(
    "email",
    [
        "customer@example.com",
        "first.last+tag@sub.example.co.uk",
        "Jane_Doe-1@Example.COM",
        "x@" + "a" * 63 + ".io",
    ],
)
def test_the_common_address_takes_the_fast_path(email: str) -> None:
    assert is_common_email(email)


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("o'brien@example.com", True),  # atext beyond the fast path's
        ("jürgen@bücher.de", True),  # Unicode
        ("a@xn--bcher-kva.de", True),  # Punycode
        ("a@ab--c.com", False),  # an R-LDH label
        ("a@example.test", False),  # special-use
        ("a@sub.localhost", False),
        ("a@example.123", False),  # a TLD ends in a letter
        ("a@-example.com", False),
        ("a@" + "a" * 64 + ".io", False),  # a label over 63
    ],
)
def test_an_address_the_fast_path_declines_gets_the_librarys_answer(
    email: str, valid: bool
) -> None:
    assert not is_common_email(email)
    expected = [] if valid else [f"customer_history.email: {EMAIL_MESSAGE}"]
    assert details_for(history(email=email)) == expected


# --- Phone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["+14155552671", "+442071838750", "+61291924000"])
def test_e164_phone_is_accepted(phone: str) -> None:
    assert details_for(history(phone=phone)) == []


@pytest.mark.parametrize(
    "phone",
    [
        "4155552671",  # no '+'
        "+1 415 555 2671",  # not canonical
        "+1-415-555-2671",
        "+1415555267",  # too short to be valid
        "+10000000000",  # parses, not a valid number
        "+",
        "+14155552671;ext=2",
        "\uff0b14155552671",  # full-width plus
        "+1415555267\uff11",  # full-width digit
        "+999123456789",  # unassigned country code
    ],
)
def test_non_e164_phone_is_rejected(phone: str) -> None:
    assert details_for(history(phone=phone)) == [f"customer_history.phone: {PHONE_MESSAGE}"]


def test_phone_over_max_length_is_rejected_by_length() -> None:
    assert details_for(history(phone="+1" + "4" * PHONE_MAX_LENGTH)) == [
        f"customer_history.phone: must be at most {PHONE_MAX_LENGTH} characters"
    ]


# --- Codes: language, country, currency ---------------------------------------------------------


@pytest.mark.parametrize("code", ["en", "fr", "zh"])
def test_iso_639_1_language_is_accepted(code: str) -> None:
    assert details_for(history(preferred_language=code)) == []


@pytest.mark.parametrize("code", ["EN", "En", "eng", "xx", "e", "", "en-US"])
def test_non_iso_639_1_language_is_rejected(code: str) -> None:
    assert details_for(history(preferred_language=code)) == [
        f"customer_history.preferred_language: {LANGUAGE_MESSAGE}"
    ]


@pytest.mark.parametrize("code", ["USA", "DEU", "GBR"])
def test_iso_3166_alpha_3_country_is_accepted(code: str) -> None:
    assert details_for(address(country=code)) == []


@pytest.mark.parametrize("code", ["US", "usa", "Usa", "XXX", "U S", "840", ""])
def test_non_alpha_3_country_is_rejected(code: str) -> None:
    assert details_for(address(country=code)) == [
        f"customer_history.address.country: {COUNTRY_MESSAGE}"
    ]


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY"])
def test_iso_4217_currency_is_accepted(code: str) -> None:
    assert details_for({"transaction_amount": 1, "transaction_currency": code}) == []
    assert details_for(history(ltv_amount=1, ltv_currency=code)) == []


@pytest.mark.parametrize("code", ["usd", "US", "XYZ", "DOLLAR", "840", ""])
def test_non_iso_4217_currency_is_rejected(code: str) -> None:
    assert details_for({"transaction_amount": 1, "transaction_currency": code}) == [
        f"transaction_currency: {CURRENCY_MESSAGE}"
    ]
    assert details_for(history(ltv_amount=1, ltv_currency=code)) == [
        f"customer_history.ltv_currency: {CURRENCY_MESSAGE}"
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"transaction_currency": 840}, "transaction_currency: must be a string"),
        (history(preferred_language=1), "customer_history.preferred_language: must be a string"),
        (address(country=["USA"]), "customer_history.address.country: must be a string"),
    ],
)
def test_non_string_code_is_rejected_as_not_a_string(body: dict[str, Any], detail: str) -> None:
    assert details_for(body) == [detail]


# --- Cross-field rules ---------------------------------------------------------------------------


def test_currency_without_amount_is_rejected() -> None:
    assert details_for({"transaction_currency": "USD"}) == [
        "transaction_currency: requires transaction_amount"
    ]


def test_currency_with_null_amount_is_rejected() -> None:
    # The null is the amount's own detail; the currency's rule stays quiet rather than repeat it.
    assert details_for({"transaction_amount": None, "transaction_currency": "USD"}) == [
        f"transaction_amount: {NULL_MESSAGE}"
    ]


def test_amount_without_currency_is_accepted_and_currency_left_unset() -> None:
    request = CreateCustomerSessionRequest.model_validate_json(b'{"transaction_amount": 500}')

    assert request.transaction_amount == 500
    assert request.transaction_currency is None


def test_currency_with_invalid_amount_reports_only_the_amount() -> None:
    assert details_for({"transaction_amount": "12", "transaction_currency": "USD"}) == [
        "transaction_amount: must be an integer"
    ]


def test_ltv_currency_without_ltv_amount_is_rejected() -> None:
    assert details_for(history(ltv_currency="USD")) == [
        "customer_history.ltv_currency: requires ltv_amount"
    ]


def test_ltv_amount_without_ltv_currency_is_accepted() -> None:
    assert details_for(history(ltv_amount=100)) == []


# --- RFC-3339 timestamps -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "2025-02-13T19:08:07.000Z",
        "2025-02-13T19:08:07Z",
        "2025-02-13T19:08:07+02:00",
        "2025-02-13T19:08:07.123456789-05:30",
        "2025-02-13t19:08:07z",
        "2024-02-29T00:00:00-00:00",
    ],
)
def test_rfc3339_timestamp_is_accepted_and_echoed_unchanged(timestamp: str) -> None:
    request = CreateCustomerSessionRequest.model_validate(history(account_created_at=timestamp))

    assert request.customer_history is not None
    assert request.customer_history.account_created_at == timestamp


@pytest.mark.parametrize(
    "timestamp",
    [
        "2025-02-13",  # no time
        "2025-02-13T19:08:07",  # no offset
        "2025-02-13T19:08:07.000",  # no offset
        "2025-02-13 19:08:07Z",  # space separator
        "2025-02-13T19:08Z",  # no seconds
        "2025-02-13T19:08:07.Z",  # empty fraction
        "2025-02-13T19:08:07+0200",  # offset without colon
        "2025-02-13T19:08:07+02",  # offset without minutes
        "2025-02-30T00:00:00Z",  # no such day
        "2025-13-01T00:00:00Z",  # no such month
        "2025-02-13T24:00:00Z",  # no such hour
        "2025-02-13T19:60:00Z",  # no such minute
        "2016-12-31T23:59:60Z",  # leap second: refused, datetime cannot hold it
        "2025-02-13T19:08:07+24:00",  # offset out of range
        "2025-02-13T19:08:07+02:60",
        "0000-01-01T00:00:00Z",  # year zero
        "\uff12025-02-13T19:08:07Z",  # non-ASCII digit
        "2025-02-13T19:08:07Z\n",
        "1739473687",
        "",
    ],
)
def test_non_rfc3339_timestamp_is_rejected(timestamp: str) -> None:
    assert details_for(history(account_created_at=timestamp)) == [
        f"customer_history.account_created_at: {TIMESTAMP_MESSAGE}"
    ]


def test_timestamp_that_is_a_number_is_rejected_as_not_a_string() -> None:
    assert details_for(history(account_created_at=1739473687)) == [
        "customer_history.account_created_at: must be a string"
    ]


def test_parse_rfc3339_timestamp_returns_aware_datetime() -> None:
    parsed = parse_rfc3339_timestamp("2025-02-13t19:08:07.1234567+02:00")

    assert parsed == datetime(2025, 2, 13, 19, 8, 7, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert parse_rfc3339_timestamp("2025-02-13T19:08:07.000Z").tzinfo is UTC


def test_parse_rfc3339_timestamp_rejects_date_only() -> None:
    with pytest.raises(ValueError, match="RFC-3339"):
        parse_rfc3339_timestamp("2025-02-13")


# --- Integers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 34000, INTEGER_MAX])
def test_non_negative_int64_is_accepted(value: int) -> None:
    assert details_for({"transaction_amount": value}) == []


@pytest.mark.parametrize("raw", [b'"1"', b"1.5", b"1e-3", b"true", b"false", b"NaN", b"[]"])
def test_non_integer_json_is_rejected(raw: bytes) -> None:
    assert details_for(b'{"transaction_amount": ' + raw + b"}") == [
        "transaction_amount: must be an integer"
    ]


@pytest.mark.parametrize(("raw", "value"), [(b"1.0", 1), (b"1e3", 1000), (b"-0.0", 0)])
def test_number_with_zero_fraction_is_the_integer_json_schema_says_it_is(
    raw: bytes, value: int
) -> None:
    # The served spec says "type: integer", and JSON Schema counts 1.0 as an integer: schemathesis
    # sent one and got a 400. Such a number is now that integer.
    request = CreateCustomerSessionRequest.model_validate_json(
        b'{"transaction_amount": ' + raw + b"}"
    )
    assert request.transaction_amount == value
    assert type(request.transaction_amount) is int


def test_negative_integer_is_rejected() -> None:
    assert details_for(history(account_tenure=-1)) == [
        "customer_history.account_tenure: must be greater than or equal to 0"
    ]


def test_integer_above_int64_is_rejected() -> None:
    assert details_for(history(transaction_count=INTEGER_MAX + 1)) == [
        "customer_history.transaction_count: must be less than or equal to 9223372036854775807"
    ]


# --- Strings -------------------------------------------------------------------------------------

STRING_LIMITS = [
    ({"customer_id": None}, "customer_id", IDENTIFIER_MAX_LENGTH),
    ({"partner_customer_id": None}, "partner_customer_id", IDENTIFIER_MAX_LENGTH),
    ({"source": None}, "source", SOURCE_MAX_LENGTH),
    (history(first_name=None), "customer_history.first_name", NAME_MAX_LENGTH),
    (history(last_name=None), "customer_history.last_name", NAME_MAX_LENGTH),
    (history(loyalty_tier=None), "customer_history.loyalty_tier", LOYALTY_TIER_MAX_LENGTH),
    (address(street_line1=None), "customer_history.address.street_line1", ADDRESS_LINE_MAX_LENGTH),
    (address(street_line2=None), "customer_history.address.street_line2", ADDRESS_LINE_MAX_LENGTH),
    (address(city=None), "customer_history.address.city", ADDRESS_LINE_MAX_LENGTH),
    (address(state=None), "customer_history.address.state", ADDRESS_LINE_MAX_LENGTH),
    (address(postal_code=None), "customer_history.address.postal_code", POSTAL_CODE_MAX_LENGTH),
]


def _with_value(template: dict[str, Any], value: Any) -> dict[str, Any]:
    """Replace the single None leaf of ``template`` with ``value``."""
    return {
        key: _with_value(leaf, value) if isinstance(leaf, dict) else value
        for key, leaf in template.items()
    }


@pytest.mark.parametrize(("template", "path", "limit"), STRING_LIMITS)
def test_string_at_max_length_is_accepted(template: dict[str, Any], path: str, limit: int) -> None:
    assert details_for(_with_value(template, "é" * limit)) == []


@pytest.mark.parametrize(("template", "path", "limit"), STRING_LIMITS)
def test_string_over_max_length_is_rejected(
    template: dict[str, Any], path: str, limit: int
) -> None:
    assert details_for(_with_value(template, "x" * (limit + 1))) == [
        f"{path}: must be at most {limit} characters"
    ]


@pytest.mark.parametrize(("template", "path", "limit"), STRING_LIMITS)
@pytest.mark.parametrize("value", [1, 1.5, True, ["x"], {"x": 1}])
def test_non_string_is_rejected(
    template: dict[str, Any], path: str, limit: int, value: Any
) -> None:
    assert details_for(_with_value(template, value)) == [f"{path}: must be a string"]


@pytest.mark.parametrize("field", ["customer_id", "partner_customer_id"])
def test_empty_identifier_is_rejected(field: str) -> None:
    assert details_for({field: ""}) == [f"{field}: must not be empty"]


# --- Metadata ------------------------------------------------------------------------------------


def test_metadata_with_any_json_values_is_accepted() -> None:
    metadata = {"store_number": "123", "n": 1, "f": 1.5, "b": True, "z": None, "l": [1, {"a": []}]}

    request = CreateCustomerSessionRequest.model_validate_json(json.dumps({"metadata": metadata}))

    assert request.metadata == metadata


def test_metadata_at_max_keys_is_accepted() -> None:
    assert details_for({"metadata": {f"k{i}": i for i in range(METADATA_MAX_KEYS)}}) == []


def test_metadata_over_max_keys_is_rejected_once() -> None:
    metadata = {f"k{i}": "x" * 1000 for i in range(METADATA_MAX_KEYS + 1)}

    assert details_for({"metadata": metadata}) == ["metadata: must have at most 50 keys"]


def test_metadata_empty_key_is_rejected() -> None:
    assert details_for({"metadata": {"": "x"}}) == ["metadata: keys must not be empty"]


def test_metadata_key_at_max_length_is_accepted() -> None:
    assert details_for({"metadata": {"k" * METADATA_KEY_MAX_LENGTH: 1}}) == []


def test_metadata_key_over_max_length_is_rejected_with_key_shortened() -> None:
    key = "k" * 1000

    assert details_for({"metadata": {key: 1}}) == [
        f"metadata.{'k' * 40}...: key must be at most {METADATA_KEY_MAX_LENGTH} characters"
    ]


def test_metadata_value_at_max_serialized_length_is_accepted() -> None:
    value = "é" * (METADATA_VALUE_MAX_CHARS - 2)  # plus two quotes; characters, not bytes

    assert details_for({"metadata": {"k": value}}) == []


def test_metadata_value_over_max_serialized_length_is_rejected() -> None:
    value = {"nested": ["x" * METADATA_VALUE_MAX_CHARS]}

    assert details_for({"metadata": {"k": value, "ok": 1}}) == [
        "metadata.k: value must be at most 500 characters when serialized"
    ]


def test_metadata_over_max_total_size_is_rejected() -> None:
    per_value = "x" * (METADATA_VALUE_MAX_CHARS - 2)
    metadata = {f"k{i}": per_value for i in range(METADATA_MAX_BYTES // 500 + 1)}

    assert details_for({"metadata": metadata}) == [
        f"metadata: must be at most {METADATA_MAX_BYTES} bytes when serialized"
    ]


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_metadata_non_json_number_is_rejected(raw: bytes) -> None:
    assert details_for(b'{"metadata": {"k": ' + raw + b"}}") == [
        "metadata.k: value must be a JSON value"
    ]


def test_metadata_errors_are_reported_with_other_field_errors() -> None:
    body = {"source": 1, "metadata": {f"k{i}": i for i in range(METADATA_MAX_KEYS + 1)}}

    assert details_for(body) == ["source: must be a string", "metadata: must have at most 50 keys"]


# --- Rendering details beyond the request -------------------------------------------------------


def test_missing_required_field_is_reported_as_required() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        CustomerSession.model_validate_json(b'{"id": "S1"}')

    assert validation_details(caught.value) == [
        "client_secret: is required",
        "expires_at: is required",
    ]


def test_list_item_error_is_reported_with_index() -> None:
    body = {"path": "/", "details": ["ok", 2], "error": "x", "status": 400, "timestamp": "t"}

    with pytest.raises(pydantic.ValidationError) as caught:
        InvalidRequestError.model_validate_json(json.dumps(body))

    assert validation_details(caught.value) == ["details[1]: must be a string"]


def test_customer_session_serialised_without_none_omits_optional_fields() -> None:
    session = CustomerSession(
        id="S1", client_secret="secret", expires_at="2025-02-13T19:08:07.000Z"
    )

    assert session.model_dump(exclude_none=True) == {
        "id": "S1",
        "client_secret": "secret",
        "expires_at": "2025-02-13T19:08:07.000Z",
    }


# --- JSON schema (what the served OpenAPI is generated from) -------------------------------------


def test_request_schema_has_no_null_branches_and_keeps_seed_text() -> None:
    schema = CreateCustomerSessionRequest.model_json_schema()
    text = json.dumps(schema)

    assert "null" not in text
    assert schema["properties"]["transaction_amount"]["type"] == "integer"
    assert schema["properties"]["transaction_amount"]["examples"] == [34000]
    assert schema["properties"]["metadata"]["type"] == "object"
    assert schema["properties"]["metadata"]["additionalProperties"] is True
    history_schema = schema["$defs"]["CustomerAccountHistory"]
    assert history_schema["description"] == "A Customer's account history with the partner"
    assert history_schema["properties"]["email"]["format"] == "email"
    assert schema["$defs"]["Address"]["properties"]["country"]["examples"] == ["USA"]


def test_customer_session_schema_requires_what_the_seed_requires() -> None:
    schema = CustomerSession.model_json_schema(mode="serialization")

    assert schema["required"] == ["id", "client_secret", "expires_at"]
    assert schema["properties"]["source"] == {
        "type": "string",
        "title": "Source",
        "description": "The source where the session was initiated",
        "examples": ["web_signup"],
    }


# --- Properties ---------------------------------------------------------------------------------

_PHONE_TYPES = [
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
]


@given(
    region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    number_type=st.sampled_from(_PHONE_TYPES),
)
def test_any_example_number_in_e164_is_accepted(region: str, number_type: int) -> None:
    number = phonenumbers.example_number_for_type(region, number_type)
    if number is None:
        reject()
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    assert details_for(history(phone=e164)) == []


@given(
    region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    number_type=st.sampled_from(_PHONE_TYPES),
)
def test_any_example_number_in_international_format_is_rejected(
    region: str, number_type: int
) -> None:
    number = phonenumbers.example_number_for_type(region, number_type)
    if number is None:
        reject()
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assume(len(spaced) <= PHONE_MAX_LENGTH)

    assert details_for(history(phone=spaced)) == [f"customer_history.phone: {PHONE_MESSAGE}"]


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@given(body=_json_scalars | st.lists(_json_values, max_size=4))
def test_any_non_object_json_body_is_rejected_as_body(body: Any) -> None:
    assert details_for(json.dumps(body).encode()) == ["body: must be a JSON object"]


@given(value=st.integers(min_value=0, max_value=INTEGER_MAX))
def test_any_int64_amount_is_accepted(value: int) -> None:
    assert details_for({"transaction_amount": value, "transaction_currency": "EUR"}) == []


@given(value=st.integers(max_value=-1) | st.integers(min_value=INTEGER_MAX + 1))
def test_any_integer_outside_int64_range_is_rejected(value: int) -> None:
    (detail,) = details_for({"transaction_amount": value})

    assert detail.startswith("transaction_amount: must be ")


@given(value=st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()))
def test_any_json_float_amount_with_a_fraction_is_rejected(value: float) -> None:
    assert details_for({"transaction_amount": value}) == ["transaction_amount: must be an integer"]


@given(country=st.sampled_from(sorted(c.alpha_3 for c in pycountry.countries)))
def test_any_alpha_3_country_is_accepted_and_its_lowercase_rejected(country: str) -> None:
    assert details_for(address(country=country)) == []
    assert details_for(address(country=country.lower())) == [
        f"customer_history.address.country: {COUNTRY_MESSAGE}"
    ]


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offset_minutes=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
def test_any_aware_isoformat_timestamp_is_accepted(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    timestamp = aware.isoformat(timespec="milliseconds")

    assert details_for(history(account_created_at=timestamp)) == []
    assert parse_rfc3339_timestamp(timestamp) == aware.replace(
        microsecond=aware.microsecond // 1000 * 1000
    )


@given(
    metadata=st.dictionaries(
        st.text(min_size=1, max_size=METADATA_KEY_MAX_LENGTH),
        st.text(max_size=60) | st.integers() | st.booleans() | st.none(),
        max_size=METADATA_MAX_KEYS,
    )
)
def test_metadata_within_key_limits_is_accepted_iff_under_total_size(
    metadata: dict[str, Any],
) -> None:
    size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())
    expected = (
        []
        if size <= METADATA_MAX_BYTES
        else [f"metadata: must be at most {METADATA_MAX_BYTES} bytes when serialized"]
    )

    assert details_for({"metadata": metadata}) == expected
