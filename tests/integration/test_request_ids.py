"""Request ids reach every response and every log line of a request, including lines written deep
inside a route and the 500 of an unhandled error (rendered outside the request-id middleware)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import Harness
from imprint_sessions.domain import customer_sessions
from imprint_sessions.logs import JsonFormatter

URL = "/v2/customer_sessions"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's log records, as the service writes them (JSON lines), during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def lines_with(stream: io.StringIO, msg: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["msg"] == msg]


async def test_log_line_written_inside_a_route_carries_the_request_id(
    harness: Harness, json_log: io.StringIO
) -> None:
    _, api_key = await harness.new_partner()
    headers = {"Idempotency-Key": "logged"}
    await harness.client.post(URL, json={}, auth=(api_key, ""), headers=headers)
    replayed = await harness.client.post(URL, json={}, auth=(api_key, ""), headers=headers)
    # domain/idempotency.py logs the replay from inside the route handler.
    logged = lines_with(json_log, "replaying the response recorded for an idempotency key")
    assert [line["request_id"] for line in logged] == [replayed.headers["request-id"]]


async def test_unhandled_error_has_the_request_id_on_its_response_and_log_line(
    harness: Harness, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, api_key = await harness.new_partner()

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(customer_sessions, "create_customer_session", crash)
    response = await harness.client.post(
        URL, json={}, auth=(api_key, ""), headers={"Request-Id": "req-crash-test-1"}
    )
    assert response.status_code == 500
    assert response.headers["request-id"] == "req-crash-test-1"
    assert response.json()["details"] == ["server: an unexpected error occurred"]
    logged = lines_with(json_log, "unhandled error")
    assert [line["request_id"] for line in logged] == ["req-crash-test-1"]
    assert "RuntimeError: boom" in logged[0]["exc"]
    access = lines_with(json_log, "POST /v2/customer_sessions 500")
    assert [line["request_id"] for line in access] == ["req-crash-test-1"]
