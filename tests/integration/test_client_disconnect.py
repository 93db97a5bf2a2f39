"""A client that goes away mid-request is not an error of ours (it once logged a 500 traceback)."""

from __future__ import annotations

import base64
import logging

import pytest

from conftest import Harness


async def test_disconnect_before_the_body_is_read_is_not_logged_as_an_error(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await harness.new_partner()
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v2/customer_sessions",
        "raw_path": b"/v2/customer_sessions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"2"),
            (b"authorization", b"Basic " + base64.b64encode(f"{key}:".encode())),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        await harness.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
