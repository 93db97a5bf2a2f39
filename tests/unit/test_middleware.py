"""The ASGI middlewares: request ids and the access log, and the body size limit."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imprint_sessions.logs import JsonFormatter, configure_logging, current_request_id
from imprint_sessions.middleware import BodySizeLimitMiddleware, RequestIdMiddleware

GENERATED_ID = re.compile(r"req_[0-9a-f]{24}")
CLIENT_SECRET = "ics_0a1b2c3d_" + "Zx9-_Qw8" * 8


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """configure_logging() writing to a buffer; the loggers it touches restored after."""
    root = logging.getLogger()
    saved_level = root.level
    saved_loggers = [
        (lg, lg.handlers[:], lg.propagate, lg.disabled, lg.level)
        for lg in map(logging.getLogger, ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx"))
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


def access_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [line for line in parsed if line["logger"] == "imprint_sessions.access"]


class EchoApp:
    """Reads the whole body, then answers 200 with it; records what it saw."""

    def __init__(self) -> None:
        self.calls = 0
        self.messages: list[Message] = []
        self.request_ids: list[str | None] = []
        self.headers: dict[bytes, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        self.request_ids.append(current_request_id())
        self.headers = dict(scope["headers"])
        body = b""
        while True:
            message = await receive()
            self.messages.append(message)
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# --- RequestIdMiddleware -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_valid_incoming_request_id_is_reused(log_buffer: io.StringIO) -> None:
    app = EchoApp()
    async with client_for(RequestIdMiddleware(app)) as client:
        response = await client.get("/v2/x", headers={"Request-Id": "partner.trace-01_A"})

    assert response.headers["Request-Id"] == "partner.trace-01_A"
    assert app.request_ids == ["partner.trace-01_A"]
    assert access_lines(log_buffer)[0]["request_id"] == "partner.trace-01_A"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming",
    ["has space", "a" * 65, "", "semi;colon", "ümlaut"],
    ids=["space", "too-long", "empty", "semicolon", "non-ascii"],
)
async def test_invalid_incoming_request_id_is_replaced(
    incoming: str, log_buffer: io.StringIO
) -> None:
    app = EchoApp()
    async with client_for(RequestIdMiddleware(app)) as client:
        response = await client.get("/v2/x", headers={b"Request-Id": incoming.encode()})

    request_id = response.headers["Request-Id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert app.request_ids == [request_id]


@pytest.mark.anyio
async def test_a_credential_sent_as_request_id_is_replaced_not_echoed(
    log_buffer: io.StringIO,
) -> None:
    """An API key fits the id's alphabet and length; echoed in the answer, it would leak."""
    key = "isk_test_" + "Ab3_-xYz" * 5 + "Q9z"
    app = EchoApp()
    async with client_for(RequestIdMiddleware(app)) as client:
        response = await client.get("/v2/x", headers={"Request-Id": key})

    assert GENERATED_ID.fullmatch(response.headers["Request-Id"])
    assert key not in log_buffer.getvalue()


@pytest.mark.anyio
async def test_missing_request_id_is_generated_and_returned(log_buffer: io.StringIO) -> None:
    app = EchoApp()
    async with client_for(RequestIdMiddleware(app)) as client:
        first = await client.get("/v2/x")
        second = await client.get("/v2/x")

    assert GENERATED_ID.fullmatch(first.headers["Request-Id"])
    assert first.headers["Request-Id"] != second.headers["Request-Id"]
    assert app.request_ids == [first.headers["Request-Id"], second.headers["Request-Id"]]
    assert current_request_id() is None


@pytest.mark.anyio
async def test_request_id_set_by_app_is_not_duplicated(log_buffer: io.StringIO) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"request-id", b"from-app")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async with client_for(RequestIdMiddleware(app)) as client:
        response = await client.get("/")

    assert response.headers.get_list("Request-Id") == ["from-app"]


@pytest.mark.anyio
async def test_request_writes_one_access_log_line(log_buffer: io.StringIO) -> None:
    async with client_for(RequestIdMiddleware(EchoApp())) as client:
        response = await client.post("/v2/customer_sessions", content=b"0123456789")

    (line,) = access_lines(log_buffer)
    assert isinstance(line["duration_ms"], float)
    assert line == {
        "ts": line["ts"],
        "level": "INFO",
        "logger": "imprint_sessions.access",
        "msg": "POST /v2/customer_sessions 200",
        "request_id": response.headers["Request-Id"],
        "method": "POST",
        "path": "/v2/customer_sessions",
        "query_keys": [],
        "status": 200,
        "duration_ms": line["duration_ms"],
        "client_ip": "127.0.0.1",
        "bytes_sent": 10,
    }


@pytest.mark.anyio
async def test_query_string_is_never_logged(log_buffer: io.StringIO) -> None:
    async with client_for(RequestIdMiddleware(EchoApp())) as client:
        await client.get(
            "/v2/client/customer_sessions/cs_1",
            params={"client_secret": CLIENT_SECRET, "expand": "x", "b": "opaque-value"},
        )

    output = log_buffer.getvalue()
    assert CLIENT_SECRET not in output
    assert "opaque-value" not in output
    assert "client_secret=" not in output
    (line,) = access_lines(log_buffer)
    assert line["path"] == "/v2/client/customer_sessions/cs_1"
    assert line["query_keys"] == ["b", "client_secret", "expand"]


@pytest.mark.anyio
async def test_disabled_access_log_writes_nothing(log_buffer: io.StringIO) -> None:
    async with client_for(RequestIdMiddleware(EchoApp(), access_log=False)) as client:
        response = await client.get("/")

    assert "Request-Id" in response.headers
    assert access_lines(log_buffer) == []


@pytest.mark.anyio
async def test_app_exception_is_logged_as_500_and_reraised(log_buffer: io.StringIO) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    async with client_for(RequestIdMiddleware(app)) as client:
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/v2/x")

    assert access_lines(log_buffer)[0]["status"] == 500
    assert current_request_id() is None


@pytest.mark.anyio
async def test_non_http_scope_passes_through_untouched() -> None:
    seen: list[tuple[str, str | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["type"], current_request_id()))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    await RequestIdMiddleware(app)({"type": "lifespan"}, receive, send)

    assert seen == [("lifespan", None)]


# --- BodySizeLimitMiddleware ---------------------------------------------------------------------


class ErrorRenderer:
    """Stands in for app.py's error envelope; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, list[str]]] = []

    def __call__(self, path: str, status: int, details: list[str]) -> bytes:
        self.calls.append((path, status, details))
        return json.dumps({"status": status, "details": details, "path": path}).encode()


def limited(app: ASGIApp, renderer: ErrorRenderer, limit: int = 10) -> BodySizeLimitMiddleware:
    return BodySizeLimitMiddleware(app, max_body_bytes=limit, render_error=renderer)


@pytest.mark.anyio
async def test_oversize_body_with_content_length_returns_413_without_calling_app() -> None:
    app, renderer = EchoApp(), ErrorRenderer()
    async with client_for(limited(app, renderer)) as client:
        response = await client.post("/v2/customer_sessions", content=b"x" * 11)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": 413,
        "details": ["body: must be at most 10 bytes"],
        "path": "/v2/customer_sessions",
    }
    assert renderer.calls == [("/v2/customer_sessions", 413, ["body: must be at most 10 bytes"])]
    assert app.calls == 0


@pytest.mark.anyio
async def test_oversize_chunked_body_returns_413_without_calling_app() -> None:
    app, renderer = EchoApp(), ErrorRenderer()
    async with client_for(limited(app, renderer)) as client:
        response = await client.put("/v2/x", content=chunks(b"12345", b"67890", b"1"))

    assert response.status_code == 413
    assert response.json()["details"] == ["body: must be at most 10 bytes"]
    assert app.calls == 0


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_body_within_limit_with_content_length_passes_through_unchanged(
    method: str,
) -> None:
    app = EchoApp()
    async with client_for(limited(app, ErrorRenderer())) as client:
        response = await client.request(method, "/v2/x", content=b"0123456789")

    assert response.status_code == 200
    assert response.content == b"0123456789"
    assert app.headers[b"content-length"] == b"10"


@pytest.mark.anyio
async def test_chunked_body_within_limit_reaches_app_whole_in_one_message() -> None:
    app = EchoApp()
    async with client_for(limited(app, ErrorRenderer())) as client:
        response = await client.post("/v2/x", content=chunks(b"01234", b"", b"56789"))

    assert response.status_code == 200
    assert response.content == b"0123456789"
    assert b"content-length" not in app.headers
    assert app.messages == [{"type": "http.request", "body": b"0123456789", "more_body": False}]


@pytest.mark.anyio
async def test_empty_body_passes_through() -> None:
    app = EchoApp()
    async with client_for(limited(app, ErrorRenderer())) as client:
        response = await client.post("/v2/x")

    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.anyio
async def test_method_without_body_is_not_limited() -> None:
    app = EchoApp()
    async with client_for(limited(app, ErrorRenderer())) as client:
        response = await client.request("GET", "/v2/x", content=b"x" * 11)

    assert response.status_code == 200
    assert app.calls == 1


@pytest.mark.anyio
async def test_413_carries_request_id_and_is_logged(log_buffer: io.StringIO) -> None:
    app = RequestIdMiddleware(limited(EchoApp(), ErrorRenderer()))
    async with client_for(app) as client:
        response = await client.post("/v2/x", content=b"x" * 11, headers={"Request-Id": "r-1"})

    assert response.status_code == 413
    assert response.headers["Request-Id"] == "r-1"
    (line,) = access_lines(log_buffer)
    assert line["status"] == 413
    assert line["bytes_sent"] == len(response.content)
