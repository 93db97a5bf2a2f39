"""Bodies two JSON readers could read differently, or too deep: refused, naming where."""

from __future__ import annotations

import pytest

from imprint_sessions.errors import InvalidRequest
from imprint_sessions.json_body import parse_json, refuse_ambiguous_json
from imprint_sessions.validation import JSON_MAX_DEPTH
from imprint_sessions.wire.partner import CreateCustomerSessionRequest


def details(raw: bytes) -> list[str]:
    """The 400 details ``raw`` gets from the parser every route uses; [] when accepted."""
    try:
        parse_json(CreateCustomerSessionRequest, raw)
    except InvalidRequest as exc:
        return list(exc.details)
    return []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"source": "a", "source": "b"}', ["source: duplicate key"]),
        (b'{"source": "a", "source": "a"}', ["source: duplicate key"]),  # same value, still
        (b'{"source": "a", "\\u0073ource": "b"}', ["source: duplicate key"]),  # an escape
        (
            b'{"customer_history": {"address": {"city": "A", "city": "B"}}}',
            ["customer_history.address.city: duplicate key"],
        ),
        (b'{"metadata": {"k": [1, {"x": 1, "x": 2}]}}', ["metadata.k[1].x: duplicate key"]),
        (
            b'{"a": 1, "b": 2, "a": 3, "b": 4, "a": 5}',
            ["a: duplicate key", "b: duplicate key"],  # each once, in order
        ),
        (b'{"": 1, "": 2}', ["body: duplicate key"]),
        (
            b'{"metadata": {"' + b"k" * 60 + b'": 1, "' + b"k" * 60 + b'": 2}}',
            ["metadata." + "k" * 40 + "...: duplicate key"],  # cut like any long key
        ),
    ],
)
def test_a_repeated_key_is_refused_naming_its_path(raw: bytes, expected: list[str]) -> None:
    assert details(raw) == expected


def test_the_same_key_in_different_objects_is_not_a_duplicate() -> None:
    raw = b'{"source": "web", "metadata": {"source": "app"}, "customer_history": {"address": {}}}'
    assert details(raw) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"transaction_amount": ' + b"9" * 4301 + b"}", "transaction_amount"),
        (b'{"transaction_amount": -' + b"9" * 4301 + b"}", "transaction_amount"),
        (b'{"transaction_amount": 1e400}', "transaction_amount"),
        (b'{"metadata": {"n": -1E+999}}', "metadata.n"),
        (b'{"metadata": {"n": [0, ' + b"9" * 5000 + b".5]}}", "metadata.n[1]"),
    ],
)
def test_a_number_out_of_range_is_refused_naming_its_path(raw: bytes, expected: str) -> None:
    assert details(raw) == [f"{expected}: number out of range"]


def test_numbers_in_range_are_left_to_the_fields_rules() -> None:
    assert details(b'{"transaction_amount": ' + b"9" * 4300 + b"}") == [
        f"transaction_amount: must be less than or equal to {2**63 - 1}"
    ]
    long_fraction = b"0." + b"1" * 5000  # many digits, but a fine double
    assert details(b'{"metadata": {"n": ' + long_fraction + b"}}") == []
    assert details(b'{"metadata": {"n": 1e308, "m": 1e-400}}') == []


def test_nesting_is_refused_one_level_past_the_limit_and_accepted_at_it() -> None:
    at_limit = b'{"metadata": {"a": ' + b"[" * (JSON_MAX_DEPTH - 2) + b"]" * (JSON_MAX_DEPTH - 2)
    refuse_ambiguous_json(at_limit + b"}}")  # 32 levels: the body, metadata, 30 arrays
    over = b'{"metadata": {"a": ' + b"[" * (JSON_MAX_DEPTH - 1) + b"]" * (JSON_MAX_DEPTH - 1)
    with pytest.raises(InvalidRequest) as raised:
        refuse_ambiguous_json(over + b"}}")
    assert raised.value.details == [f"body: nested too deeply (limit {JSON_MAX_DEPTH} levels)"]


def test_brackets_inside_strings_are_not_nesting() -> None:
    inside = b'"' + b"[{" * 100 + b'\\"' + b"]}" * 100 + b'"'
    assert details(b'{"source": ' + inside + b"}") == ["source: must be at most 255 characters"]


def test_deep_nesting_far_past_any_parser_limit_is_refused_the_same_way() -> None:
    deep = b'{"metadata": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert details(deep) == [f"body: nested too deeply (limit {JSON_MAX_DEPTH} levels)"]


@pytest.mark.parametrize("raw", [b"{", b'{"a":}', b'{"a": 1, "a": }', b"\xff\xfe", b'{"a": 1}x'])
def test_malformed_json_is_still_just_invalid_json(raw: bytes) -> None:
    assert details(raw) == ["body: must be valid JSON"]


def test_a_body_with_every_kind_of_problem_reports_the_duplicates_and_numbers_at_once() -> None:
    raw = b'{"source": "a", "source": "b", "transaction_amount": 1e999}'
    assert details(raw) == ["source: duplicate key", "transaction_amount: number out of range"]


def test_an_unterminated_string_of_escaped_quotes_is_scanned_in_linear_time() -> None:
    # 60 KiB of \" after enough brackets to need the depth scan: a string pattern retried at
    # every quote is quadratic here (seconds on 16 KiB); this must answer at once.
    raw = b'{"metadata": ' + b"[" * (JSON_MAX_DEPTH + 1) + b'"' + b'\\"' * 30_000
    assert details(raw) == [f"body: nested too deeply (limit {JSON_MAX_DEPTH} levels)"]
    raw = b'{"metadata": [' + b"[]" * JSON_MAX_DEPTH + b'"' + b'\\"' * 30_000
    assert details(raw) == ["body: must be valid JSON"]


def test_many_repeated_keys_are_each_reported_once() -> None:
    members = b", ".join(b'"k%d": 1, "k%d": 2' % (n, n) for n in range(3000))
    found = details(b'{"metadata": {' + members + b"}}")
    assert found == [f"metadata.k{n}: duplicate key" for n in range(3000)]


def test_into_record_hands_over_the_fields_sent_by_name() -> None:
    from imprint_sessions.json_body import into_record
    from imprint_sessions.storage.records import WebhookEndpointFields
    from imprint_sessions.wire.webhooks import CreateWebhookEndpointRequest

    convert = into_record(CreateWebhookEndpointRequest, WebhookEndpointFields)
    sent = CreateWebhookEndpointRequest.model_validate_json(
        b'{"url":"https://x.example/h","event_types":["APPLICATION"]}'
    )
    assert convert(sent) == WebhookEndpointFields(
        url="https://x.example/h", event_types=("APPLICATION",)
    )
    unset = CreateWebhookEndpointRequest.model_validate_json(b'{"url":"https://x.example/h"}')
    assert convert(unset).event_types is None  # the record's default: every type


def test_into_record_refuses_at_import_a_body_field_the_record_lacks() -> None:
    import dataclasses

    import pydantic

    from imprint_sessions.json_body import into_record

    class Body(pydantic.BaseModel):
        url: str
        colour: str

    @dataclasses.dataclass
    class Fields:
        url: str

    with pytest.raises(TypeError, match=r"Body\.colour: Fields has no field 'colour'"):
        into_record(Body, Fields)
