"""LoadSheddingMiddleware's places: handed over in arrival order, never lost to a request that
goes away while it waits or just as it is handed one."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from imprint_sessions.middleware import LoadSheddingMiddleware


class Gate:
    """An app whose requests each wait for their own release."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"]
        self.started.append(name)
        self.release.setdefault(name, asyncio.Event())
        await self.release[name].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def render(path: str, status: int, details: list[str]) -> bytes:
    return b"{}"


async def call(middleware: LoadSheddingMiddleware, path: str) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "GET", "headers": []}
    await middleware(scope, receive, send)
    return int(sent[0]["status"])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def one_in_flight(
    wait: float, *then: str
) -> tuple[Gate, LoadSheddingMiddleware, asyncio.Task[int], list[asyncio.Task[int]]]:
    """A middleware with one place, "/a" in it, and requests for ``then`` waiting behind it."""
    gate = Gate()
    middleware = LoadSheddingMiddleware(
        gate, max_in_flight=1, max_queue_seconds=wait, render_error=render
    )
    first = asyncio.create_task(call(middleware, "/a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(call(middleware, path)) for path in then]
    await asyncio.sleep(0.01)
    return gate, middleware, first, waiting


def release(gate: Gate, *paths: str) -> None:
    for path in paths:
        gate.release.setdefault(path, asyncio.Event()).set()


async def test_places_go_to_waiting_requests_in_arrival_order() -> None:
    gate, middleware, first, waiting = await one_in_flight(5, "/b", "/c")
    assert gate.started == ["/a"]
    release(gate, "/a", "/b", "/c")
    assert await asyncio.gather(first, *waiting) == [200, 200, 200]
    assert gate.started == ["/a", "/b", "/c"]
    assert middleware.in_flight == 0


async def test_a_request_that_goes_away_while_waiting_takes_no_place_with_it() -> None:
    gate, middleware, first, (gone, later) = await one_in_flight(5, "/gone", "/later")
    gone.cancel()
    release(gate, "/a", "/later")
    assert await first == 200
    assert await later == 200
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert "/gone" not in gate.started
    assert middleware.in_flight == 0


async def test_a_request_cancelled_just_as_it_is_handed_a_place_passes_it_on() -> None:
    gate, middleware, first, (handed, after) = await one_in_flight(5, "/handed", "/after")
    release(gate, "/a")
    await asyncio.sleep(0)  # "/a" finishes and hands its place to "/handed", not yet resumed
    assert first.done()
    handed.cancel()  # before "/handed" resumes with the place
    release(gate, "/after")
    assert await after == 200  # the place went on to "/after"
    with pytest.raises(asyncio.CancelledError):
        await handed
    assert "/handed" not in gate.started
    assert middleware.in_flight == 0


async def test_with_no_wait_a_request_past_the_places_is_refused_at_once() -> None:
    gate, middleware, first, _ = await one_in_flight(0)
    assert await call(middleware, "/b") == 503
    release(gate, "/a")
    assert await first == 200
    assert middleware.in_flight == 0
