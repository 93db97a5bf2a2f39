"""Pure ASGI middlewares: request ids with the access log, and the request body size limit."""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imprint_sessions.clock import real_time_until_told, reset_time
from imprint_sessions.logs import redact_credentials, request_id_var
from imprint_sessions.observability.metrics import REQUESTS, route_of

__all__ = [
    "REQUEST_ID_PATTERN",
    "REQUEST_ID_SCOPE_KEY",
    "BodySizeLimitMiddleware",
    "LoadSheddingMiddleware",
    "RequestIdMiddleware",
    "new_request_id",
]

access_logger = logging.getLogger("imprint_sessions.access")

_REQUEST_ID_HEADER = b"request-id"
# Where the id is also left in the scope, for the one handler that runs outside this middleware:
# Starlette's ServerErrorMiddleware (outermost) renders unhandled errors as 500s.
REQUEST_ID_SCOPE_KEY = "imprint.request_id"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"  # the caller's id, if it fits; else one of ours
_VALID_REQUEST_ID = re.compile(REQUEST_ID_PATTERN.encode())
_MAX_LOGGED_QUERY_KEYS = 50


def new_request_id() -> str:
    """A fresh request id: ``req_`` and 24 hex characters."""
    return "req_" + secrets.token_hex(12)


def _query_keys(query_string: bytes) -> list[str]:
    """The parameter names of a query string, sorted and unique; never the values."""
    if not query_string:
        return []
    names = {
        unquote_plus(part.split("=", 1)[0])
        for part in query_string.decode("latin-1").split("&")
        if part
    }
    return sorted(names)[:_MAX_LOGGED_QUERY_KEYS]


class RequestIdMiddleware:
    """Gives each HTTP request an id (the caller's ``Request-Id`` if well formed), exposes it to
    logging through ``request_id_var``, echoes it as a response header, counts it in the request
    metrics (by route template, method and status) and writes one access log line. Put it
    outermost so every response, errors and 413s included, carries the header.
    """

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id: str | None = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER:
                if _VALID_REQUEST_ID.fullmatch(value):
                    candidate = value.decode("ascii")
                    # An API key fits the id's alphabet; echoed and logged, it would leak.
                    if redact_credentials(candidate) == candidate:
                        request_id = candidate
                break
        if request_id is None:
            request_id = new_request_id()
        id_header = (_REQUEST_ID_HEADER, request_id.encode("ascii"))

        status: int | None = None
        bytes_sent = 0

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, bytes_sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))  # a copy: the app may reuse its list
                if not any(name.lower() == _REQUEST_ID_HEADER for name, _ in headers):
                    headers.append(id_header)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                bytes_sent += len(message.get("body", b""))
            await send(message)

        scope[REQUEST_ID_SCOPE_KEY] = request_id
        token = request_id_var.set(request_id)
        time_token = real_time_until_told()
        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException:
            if status is None:
                status = 500  # what the server will answer for the escaped exception
            raise
        finally:
            REQUESTS.observe(
                route_of(scope), scope["method"], status or 0, time.perf_counter() - started
            )
            if self.access_log:
                self._log(scope, status, bytes_sent, started)
            reset_time(time_token)
            request_id_var.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int | None, bytes_sent: int, started: float) -> None:
        method: str = scope["method"]
        path: str = scope["path"]  # never the query string: it can carry a client secret
        client = scope.get("client")
        access_logger.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "query_keys": _query_keys(scope.get("query_string", b"")),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client_ip": client[0] if client else None,
                "bytes_sent": bytes_sent,
            },
        )


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Answered however busy the process is: liveness (a process that sheds load is alive, and a
# restart would only add to the load) and the metrics that show the shedding.
_NEVER_SHED = frozenset({"/healthz", "/metrics"})
SHED_RETRY_AFTER_SECONDS = 1


class LoadSheddingMiddleware:
    """Bounds the requests a process works on at once to ``max_in_flight``. One that arrives
    while all are taken waits, in arrival order, up to ``max_queue_seconds`` for a place; if
    none frees up by then it is answered 503 with ``Retry-After``, its body never read.

    Without it, overload queued where queueing costs the most: every request was admitted,
    waited for one of the pool's connections behind hundreds of others, and the event loop,
    busy with all of them, took seconds to resume each, so admitted requests slowed to a crawl
    and some passed the clients' timeouts (BENCHMARKS.md, "Overload"). A request waiting here
    costs no CPU, the admitted ones run as fast as in an unloaded process, and no answer takes
    much longer than ``max_queue_seconds`` plus one request's work.

    Inside ``RequestIdMiddleware``, so a refusal carries its request id, is counted in the
    request metrics and logged like any other answer.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        max_queue_seconds: float,
        render_error: Callable[[str, int, list[str]], bytes],
        on_shed: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_queue_seconds = max_queue_seconds
        self.render_error = render_error
        self.on_shed = on_shed
        self.in_flight = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _NEVER_SHED:
            await self.app(scope, receive, send)
            return
        if self.in_flight < self.max_in_flight:
            self.in_flight += 1
        elif not await self._wait_for_a_place():
            if self.on_shed is not None:
                self.on_shed()
            await self._send_unavailable(scope, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._release()

    async def _wait_for_a_place(self) -> bool:
        """Wait for a finishing request to hand over its place; False: none did in time."""
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            async with asyncio.timeout(self.max_queue_seconds):
                await place
        except TimeoutError:
            # Handed over just as the time ran out: it is ours (and counted) all the same.
            if place.done() and not place.cancelled():
                return True
            place.cancel()  # skipped by _release
            return False
        except BaseException:
            if place.done() and not place.cancelled():
                self._release()  # handed over, but this request is going away: pass it on
            else:
                place.cancel()
            raise
        return True

    def _release(self) -> None:
        """A request is done: its place goes to the longest waiting request, if any."""
        while self._waiting:
            place = self._waiting.popleft()
            if not place.done():
                place.set_result(None)  # in_flight is unchanged: the place changes hands
                return
        self.in_flight -= 1

    async def _send_unavailable(self, scope: Scope, send: Send) -> None:
        body = self.render_error(
            scope["path"], 503, ["server: too busy to take this request now, retry shortly"]
        )
        retry_after = str(SHED_RETRY_AFTER_SECONDS).encode("ascii")
        await send_error(send, 503, body, (b"retry-after", retry_after))


class BodySizeLimitMiddleware:
    """Answers 413 to a POST/PUT/PATCH/DELETE whose body is larger than ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before any of the body is read. A body
    without one (chunked) is read into memory up to the limit, so the app is called only once the
    whole body is known to fit, and then sees it as a single message. ``render_error(path,
    status, details)`` returns the JSON error body, in the same envelope as every other error.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        render_error: Callable[[str, int, list[str]], bytes],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return

        content_length = _content_length(scope)
        if content_length is not None:
            # The server delivers exactly Content-Length bytes, so a length within the limit
            # needs no counting and the body streams through untouched.
            if content_length > self.max_body_bytes:
                await self._send_too_large(scope, send)
            else:
                await self.app(scope, receive, send)
            return

        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect: let the app see it
                replay = [message]
                break
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                await self._send_too_large(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
                break

        async def replay_body() -> Message:
            if replay:
                return replay.pop()
            return await receive()

        await self.app(scope, replay_body, send)

    async def _send_too_large(self, scope: Scope, send: Send) -> None:
        body = self.render_error(
            scope["path"], 413, [f"body: must be at most {self.max_body_bytes} bytes"]
        )
        # The rest of the body is never read, so the connection cannot be reused.
        await send_error(send, 413, body, (b"connection", b"close"))


async def send_error(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    """A JSON error body (``render_error``'s), with ``headers`` besides its type and length."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or None when absent or unreadable (then the body is counted)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
