"""JSON log lines: fields, request ids, one line per record, and credential redaction."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from imprint_sessions.logs import (
    API_KEY_RE,
    CLIENT_ACCESS_TOKEN_RE,
    CLIENT_SECRET_RE,
    OPERATOR_CREDENTIAL_RE,
    OPERATOR_SESSION_RE,
    REDACTED,
    WEBHOOK_SECRET_RE,
    JsonFormatter,
    configure_logging,
    current_request_id,
    redact,
    redact_credentials,
    request_id_var,
)

# One value per credential format, as credentials.py builds them (fixed, so failures repeat).
CREDENTIALS = {
    "api_key_test": "isk_test_" + "Ab3_-xYz" * 5 + "Q9z",
    "api_key_live": "isk_live_" + "Pq7-_Rs1" * 5 + "t2U",
    "client_secret": "ics_0a1b2c3d_" + "Zx9-_Qw8" * 8,
    "client_access_token": "ict_" + "Tk7_-Lm2" * 5 + "p0q",
    "webhook_signing_secret": "whsec_" + "K1+Zq/9x" * 4 + "W2v8Lm==",
    "operator_credential": "ioc_" + "Op4_-Cr9" * 5 + "e7D",
    "operator_session_token": "iot_" + "Se5-_Ss3" * 5 + "n6T",
}
credential_params = pytest.mark.parametrize(
    "credential", list(CREDENTIALS.values()), ids=list(CREDENTIALS)
)

TOUCHED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx")

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def buffer() -> Iterator[io.StringIO]:
    """configure_logging() writing to a buffer; the loggers it touches restored after."""
    root = logging.getLogger()
    saved_level = root.level
    saved_loggers = [
        (lg, lg.handlers[:], lg.propagate, lg.disabled, lg.level)
        for lg in map(logging.getLogger, TOUCHED_LOGGERS)
    ]
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    for handler in root.handlers[:]:
        if isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)
    root.setLevel(saved_level)
    for lg, handlers, propagate, disabled, level in saved_loggers:
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled
        lg.setLevel(level)


@pytest.fixture
def lines(buffer: io.StringIO) -> Lines:
    """Every line written so far, each parsed as JSON."""
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("imprint_sessions.tests.logs")


def assert_hidden(output: str, credential: str) -> None:
    assert credential not in output
    assert credential[-20:] not in output  # no recognisable tail left behind either
    assert REDACTED in output


# --- Credential formats --------------------------------------------------------------------------


def test_generated_credentials_match_public_patterns() -> None:
    assert API_KEY_RE.fullmatch(CREDENTIALS["api_key_test"])
    assert API_KEY_RE.fullmatch(CREDENTIALS["api_key_live"])
    assert CLIENT_SECRET_RE.fullmatch(CREDENTIALS["client_secret"])
    assert CLIENT_ACCESS_TOKEN_RE.fullmatch(CREDENTIALS["client_access_token"])
    assert WEBHOOK_SECRET_RE.fullmatch(CREDENTIALS["webhook_signing_secret"])
    assert OPERATOR_CREDENTIAL_RE.fullmatch(CREDENTIALS["operator_credential"])
    assert OPERATOR_SESSION_RE.fullmatch(CREDENTIALS["operator_session_token"])


@credential_params
def test_credential_in_message_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO
) -> None:
    log.info(f"partner sent {credential} in a field")

    assert_hidden(buffer.getvalue(), credential)


@credential_params
def test_credential_in_message_args_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO, lines: Lines
) -> None:
    log.warning("rejected credential %r for partner %s", credential, "ptn_1")

    assert_hidden(buffer.getvalue(), credential)
    assert lines()[0]["msg"] == f"rejected credential '{REDACTED}' for partner ptn_1"


@credential_params
def test_credential_in_extras_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO
) -> None:
    log.info(
        "request body",
        extra={"body": f'{{"value": "{credential}"}}', "nested": {"items": [credential]}},
    )

    assert_hidden(buffer.getvalue(), credential)


@credential_params
def test_credential_in_exception_traceback_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO, lines: Lines
) -> None:
    try:
        raise ValueError(f"could not verify {credential}")
    except ValueError:
        log.exception("verification failed")

    assert_hidden(buffer.getvalue(), credential)
    assert "ValueError: could not verify [REDACTED]" in lines()[0]["exc"]


@credential_params
def test_credential_in_non_serializable_extra_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO
) -> None:
    class Holder:
        def __str__(self) -> str:
            return f"Holder({credential})"

    log.info("holder", extra={"holder": Holder()})

    assert_hidden(buffer.getvalue(), credential)


@credential_params
def test_url_encoded_credential_is_redacted(
    credential: str, log: logging.Logger, buffer: io.StringIO
) -> None:
    encoded = quote(credential, safe="")

    log.info("redirecting to https://partner.example/cb?next=%s", encoded)

    assert_hidden(buffer.getvalue(), encoded)


@credential_params
@pytest.mark.parametrize("lead", [b"", b"u", b"us"], ids=["aligned", "offset1", "offset2"])
def test_base64_encoded_credential_is_redacted(
    credential: str, lead: bytes, log: logging.Logger, buffer: io.StringIO
) -> None:
    encoded = base64.b64encode(lead + credential.encode()).decode()

    log.info("forwarded header payload %s", encoded)

    output = buffer.getvalue()
    assert encoded[3:] not in output
    assert encoded[-20:] not in output
    assert REDACTED in output


@pytest.mark.parametrize(
    "truncated",
    [CREDENTIALS["api_key_test"][:30], CREDENTIALS["client_secret"][:40], "ict_" + "x" * 24],
)
def test_truncated_credential_is_redacted(truncated: str) -> None:
    assert redact(f"bad key {truncated}!") == f"bad key {REDACTED}!"


def test_url_encoded_webhook_secret_base64_characters_are_redacted() -> None:
    secret = CREDENTIALS["webhook_signing_secret"]
    encoded = secret.replace("+", "%2B").replace("/", "%2f").replace("=", "%3D")

    assert redact(f"secret {encoded} end") == f"secret {REDACTED} end"


@credential_params
def test_redact_credentials_removes_echoed_credentials_and_keeps_prose(credential: str) -> None:
    echoed = f"Key not found for provided ID: {credential}; use Basic auth, code=12"
    assert redact_credentials(echoed) == (
        f"Key not found for provided ID: {REDACTED}; use Basic auth, code=12"
    )
    encoded = base64.b64encode(f"{credential}:".encode()).decode()
    assert redact_credentials(f"/v2/x/{encoded}") == f"/v2/x/{REDACTED}"


# --- Authorization headers and secret key=value --------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization: Bearer abc.DEF-ghi_jkl~123", "abc.DEF-ghi_jkl~123"),
        ("authorization: basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("AUTHORIZATION: BEARER opaque+token/value=", "opaque+token/value="),
        ("Authorization: Bearer\topaque-after-tab", "opaque-after-tab"),
    ],
)
def test_authorization_header_value_is_redacted(
    header: str, value: str, log: logging.Logger, buffer: io.StringIO, lines: Lines
) -> None:
    log.info("incoming headers: %s", header)

    assert value not in buffer.getvalue()
    assert lines()[0]["msg"] == "incoming headers: " + header.replace(value, REDACTED)


def test_authorization_in_headers_extra_is_redacted_whatever_the_scheme(
    log: logging.Logger, lines: Lines
) -> None:
    log.info(
        "headers",
        extra={
            "headers": {"Authorization": "Token opaque123", "X-Api-Key": "k-123", "Accept": "*"}
        },
    )

    assert lines()[0]["headers"] == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "Accept": "*",
    }


def test_secret_query_parameters_are_redacted(log: logging.Logger, lines: Lines) -> None:
    log.info("GET /cb?code=482913&state=ok&client_secret=abc123&Access_Token=tok456 done")

    assert lines()[0]["msg"] == (
        f"GET /cb?code={REDACTED}&state=ok&client_secret={REDACTED}&Access_Token={REDACTED} done"
    )


def test_url_encoded_query_inside_redirect_is_redacted(log: logging.Logger, lines: Lines) -> None:
    log.info("redirect=https%3A%2F%2Fp.example%2Fcb%3Fcode%3D482913%26state%3Dok")

    assert lines()[0]["msg"] == (
        f"redirect=https%3A%2F%2Fp.example%2Fcb%3Fcode%3D{REDACTED}%26state%3Dok"
    )


def test_secret_named_extras_are_redacted(log: logging.Logger, lines: Lines) -> None:
    log.info(
        "verifying",
        extra={
            "code": "482913",
            "one_time_code": "771204",
            "partner": {"client_secret": "opaque", "name": "Acme"},
            "attempts": [{"access_token": "opaque"}],
            "status_code": 201,
        },
    )

    line = lines()[0]
    assert line["code"] == REDACTED
    assert line["one_time_code"] == REDACTED
    assert line["partner"] == {"client_secret": REDACTED, "name": "Acme"}
    assert line["attempts"] == [{"access_token": REDACTED}]
    assert line["status_code"] == 201


@pytest.mark.parametrize(
    "text",
    [
        "status_code=201 zipcode=94107 country_code=US",
        "strict_transport_security_max_age_seconds_for_all_subdomains_here",
        "dict_items_of_the_customer_session_payload_rendered_for_debugging",
        "customer_session cs_123 created for partner ptn_456",
        "isk_test_short",
    ],
)
def test_ordinary_text_is_not_redacted(text: str) -> None:
    assert redact(text) == text


def test_text_without_trigger_is_returned_as_is() -> None:
    text = "POST /v2/customer_sessions 201"

    assert redact(text) is text


# --- One record, one line ------------------------------------------------------------------------


def test_log_injection_probe_in_message_yields_one_line(
    log: logging.Logger, buffer: io.StringIO, lines: Lines
) -> None:
    probe = 'partner name\n{"level":"CRITICAL","msg":"forged"}\r\nmore\u2028and\x85more'

    log.info("partner %s", probe)

    output = buffer.getvalue()
    assert output.count("\n") == 1
    assert len(output.splitlines()) == 1
    assert lines() == [
        {
            "ts": lines()[0]["ts"],
            "level": "INFO",
            "logger": "imprint_sessions.tests.logs",
            "msg": f"partner {probe}",
        }
    ]


def test_log_injection_probe_in_extras_yields_one_line(
    log: logging.Logger, buffer: io.StringIO, lines: Lines
) -> None:
    log.info("lookup", extra={"email": 'a@b.c\n{"level":"CRITICAL"}'})

    assert len(buffer.getvalue().splitlines()) == 1
    assert lines()[0]["level"] == "INFO"


# --- Fields --------------------------------------------------------------------------------------


def test_record_renders_core_fields_and_extras(log: logging.Logger, lines: Lines) -> None:
    log.warning("created %s", "cs_1", extra={"partner_id": "ptn_1", "amount": 1200})

    line = lines()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line == {
        "ts": line["ts"],
        "level": "WARNING",
        "logger": "imprint_sessions.tests.logs",
        "msg": "created cs_1",
        "partner_id": "ptn_1",
        "amount": 1200,
    }


def test_output_is_compact_json(log: logging.Logger, buffer: io.StringIO) -> None:
    log.info("compact", extra={"a": 1})

    assert '"msg":"compact","a":1}' in buffer.getvalue()


def test_request_id_when_set_is_included(log: logging.Logger, lines: Lines) -> None:
    token = request_id_var.set("req_abc")
    try:
        assert current_request_id() == "req_abc"
        log.info("inside")
    finally:
        request_id_var.reset(token)
    log.info("outside")

    inside, outside = lines()
    assert inside["request_id"] == "req_abc"
    assert "request_id" not in outside
    assert current_request_id() is None


def test_exception_is_rendered_in_exc(log: logging.Logger, lines: Lines) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.error("boom", exc_info=True)

    exc = lines()[0]["exc"]
    assert exc.startswith("Traceback (most recent call last):")
    assert exc.endswith("ZeroDivisionError: division by zero")


def test_unusual_extras_render_without_losing_the_record(log: logging.Logger, lines: Lines) -> None:
    looped: list[Any] = []
    looped.append(looped)

    log.info("odd", extra={"by_pair": {(1, 2): "x", 3: "y"}, "looped": looped, "tags": {"a"}})

    line = lines()[0]
    assert line["by_pair"] == {"(1, 2)": "x", "3": "y"}
    assert line["tags"] == "{'a'}"
    assert "[nested too deep]" in json.dumps(line["looped"])


def test_extra_named_like_a_core_field_is_kept_apart(log: logging.Logger, lines: Lines) -> None:
    log.info("real", extra={"level": "fake", "ts": "fake"})

    line = lines()[0]
    assert line["level"] == "INFO"
    assert line["extra_level"] == "fake"
    assert line["extra_ts"] == "fake"


def test_unformattable_args_keep_the_record_without_leaking(
    log: logging.Logger, buffer: io.StringIO, lines: Lines, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = CREDENTIALS["api_key_live"]
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "%d items", (credential,), None)
    # Straight to our handler: pytest's own capture handler would print the args itself.
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]

    handler.handle(record)

    assert credential not in buffer.getvalue()
    assert lines()[0]["msg"] == "%d items [log arguments could not be formatted]"
    assert capsys.readouterr().err == ""


def test_level_filters_lower_records(buffer: io.StringIO, log: logging.Logger) -> None:
    configure_logging("warning", stream=buffer)

    log.info("hidden")
    log.warning("shown")

    assert [json.loads(line)["msg"] for line in buffer.getvalue().splitlines()] == ["shown"]


# --- Configuration -------------------------------------------------------------------------------


def test_configure_twice_installs_one_handler(
    buffer: io.StringIO, log: logging.Logger, lines: Lines
) -> None:
    configure_logging("INFO", stream=buffer)

    log.info("once")

    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert len(ours) == 1
    assert [line["msg"] for line in lines()] == ["once"]


def test_unknown_level_raises_value_error(buffer: io.StringIO) -> None:
    with pytest.raises(ValueError, match="Unknown level"):
        configure_logging("LOUD", stream=buffer)


def test_uvicorn_error_logs_go_through_the_json_handler(lines: Lines) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)

    assert lines()[0]["logger"] == "uvicorn.error"
    assert lines()[0]["msg"] == "Started server process [42]"
    assert logging.getLogger("uvicorn").handlers == []


def test_uvicorn_access_log_is_silenced(buffer: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").warning('127.0.0.1 - "GET /?client_secret=x HTTP/1.1" 200')

    assert buffer.getvalue() == ""


def test_failed_write_reports_without_the_record(
    buffer: io.StringIO, log: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = CREDENTIALS["client_secret"]
    closed = io.StringIO()
    closed.close()
    configure_logging("INFO", stream=closed)
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]

    handler.handle(log.makeRecord(log.name, logging.INFO, __file__, 1, "%s", (credential,), None))

    err = capsys.readouterr().err
    assert "a log record could not be written" in err
    assert credential not in err


def test_httpx_request_urls_are_not_logged(buffer: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://partner.example/hook?auth=opaque")

    assert buffer.getvalue() == ""


def test_uvicorns_colour_coded_copy_of_a_message_is_left_out() -> None:
    """Regression: every uvicorn start-up line carried ``color_message`` with ANSI escapes."""
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, "", 0, "Started server process [%d]", (7,), None
    )
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "Started server process [7]"
    assert "color_message" not in line
