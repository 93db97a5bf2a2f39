"""Log injection: line breaks and a forged JSON log line in any part of a request stay one log line.

Sent through the in-process app at DEBUG with the access log on; ``tests/e2e/test_log_injection_
serve.py`` sends the same probe to a real ``serve`` process and reads its stderr.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from conftest import _REGISTRY, Harness

FORGED = '{"level":"ERROR","logger":"imprint_sessions.access","msg":"forged"}'
INJECTED = f"\r\n{FORGED}\n\u2028{FORGED}\r"
IN_HEADER = f"\r\n{FORGED}\n"  # header values are ASCII


def parsed_lines(text: str) -> list[dict[str, Any]]:
    """Every physical line of a JSON log, parsed; a line that is not one JSON object fails."""
    records = []
    for line in text.split("\n"):
        if not line:
            continue
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def assert_one_line_per_event(text: str, request_id: str) -> list[dict[str, Any]]:
    """The probe's log events: each one physical line, none forged, exactly one access line."""
    records = parsed_lines(text)
    assert not [r for r in records if r.get("msg") == "forged"]
    assert all(r["level"] != "ERROR" or r["msg"] != "forged" for r in records)
    mine = [r for r in records if r.get("request_id") == request_id]
    # A line mentioning the id is a record of it: nothing spilled onto a line of its own.
    assert len(mine) == sum(request_id in line for line in text.split("\n"))
    assert [r["logger"] for r in mine].count("imprint_sessions.access") == 1
    return mine


async def test_line_breaks_in_path_query_headers_and_body_yield_one_access_line(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    request_id = f"probe-{secrets.token_hex(6)}"
    start = len(_REGISTRY.log_stream.getvalue())
    response = await harness.client.post(
        f"/v2/customer_sessions/{quote(INJECTED, safe='')}/expire",
        params={INJECTED: INJECTED, "q": INJECTED},
        json={"partner_customer_id": INJECTED, "metadata": {INJECTED: INJECTED}},
        auth=(key, ""),
        headers={
            "Request-Id": request_id,
            "User-Agent": IN_HEADER,
            "Idempotency-Key": f"ok-{secrets.token_hex(4)}",
            "X-Imprint-Merchant-Key": IN_HEADER,
            "Referer": IN_HEADER,
        },
    )
    assert response.headers["request-id"] == request_id
    logged = _REGISTRY.log_stream.getvalue()[start:]
    (access,) = [
        r
        for r in assert_one_line_per_event(logged, request_id)
        if r["logger"] == "imprint_sessions.access"
    ]
    # The probe reached the log as data: the forged line sits inside the path and a query key.
    assert FORGED in access["path"]
    assert FORGED in access["msg"]
    assert any(FORGED in key for key in access["query_keys"])
    assert access["status"] == response.status_code


async def test_a_forged_line_in_json_body_fields_stays_out_of_the_log_and_the_answer(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    request_id = f"probe-{secrets.token_hex(6)}"
    start = len(_REGISTRY.log_stream.getvalue())
    body = {
        "partner_customer_id": f"CUST{INJECTED}",
        "customer_history": {"first_name": INJECTED, "email": f"{INJECTED}@example.com"},
        "metadata": {"note": INJECTED, INJECTED[:40]: "x"},
        "transaction_currency": INJECTED,
    }
    response = await harness.client.post(
        "/v2/customer_sessions",
        params={INJECTED: "1"},
        json=body,
        auth=(key, ""),
        headers={"Request-Id": request_id, "User-Agent": IN_HEADER},
    )
    assert response.status_code == 400  # the email and the currency are invalid
    assert FORGED not in response.text
    (access,) = [
        r
        for r in assert_one_line_per_event(_REGISTRY.log_stream.getvalue()[start:], request_id)
        if r["logger"] == "imprint_sessions.access"
    ]
    assert any(FORGED in key for key in access["query_keys"])


async def test_a_line_broken_request_id_or_idempotency_key_is_refused_and_logged_once(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    start = len(_REGISTRY.log_stream.getvalue())
    refused = await harness.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": f"CUST_{INJECTED}"},
        auth=(key, ""),
        headers={"Request-Id": IN_HEADER, "Idempotency-Key": IN_HEADER},
    )
    assert refused.status_code == 400
    assert refused.json()["details"] == [
        "idempotency-key: must be 1 to 255 printable ASCII characters"
    ]
    request_id = refused.headers["request-id"]
    assert request_id.startswith("req_")  # the caller's broken id was not adopted
    logged = _REGISTRY.log_stream.getvalue()[start:]
    assert_one_line_per_event(logged, request_id)
    assert FORGED not in refused.text
