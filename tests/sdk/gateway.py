"""A load balancer between the client and the real app, told what to do with each request.

The only thing faked in the SDK's retry tests: a gateway outside the service (a proxy, a load
balancer, the network) that answers 502/503/504 itself, loses the service's answer after the
service ran the request, drops the connection, or refuses it. Everything behind it is the real
app (in this process, or a real server), so what the service did is real.

Actions, one per request in order (after the script runs out: ``pass``):

- ``pass``: forward, answer what the service answered;
- ``502`` / ``503`` / ``504``: answer that status without forwarding (an HTML page, no JSON);
- ``504-after``: forward, throw the service's answer away, answer 504 (it ran: the answer was lost);
- ``drop-after``: forward, then drop the connection (``ReadError``: it ran, no answer);
- ``refuse``: connection refused, nothing forwarded (``ConnectError``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

PAGE = b"<html><body><h1>Bad Gateway</h1></body></html>"


@dataclass
class Seen:
    """One request the gateway got, and what it did."""

    method: str
    path: str
    headers: httpx.Headers
    action: str
    status: int | None = None  # what the service answered, when forwarded
    replayed: bool = False  # the service's Idempotent-Replayed header


@dataclass
class Script:
    actions: list[str]
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, request: httpx.Request) -> Seen:
        with self.lock:
            action = self.actions.pop(0) if self.actions else "pass"
            seen = Seen(request.method, request.url.path, request.headers, action)
            self.seen.append(seen)
            return seen

    def forwarded(self) -> list[Seen]:
        return [s for s in self.seen if s.action in ("pass", "504-after", "drop-after")]


def _answer(seen: Seen, request: httpx.Request) -> httpx.Response | None:
    """The gateway's own answer before forwarding (or raises), else None."""
    if seen.action == "refuse":
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    if seen.action in ("502", "503", "504"):
        return httpx.Response(
            int(seen.action), headers={"content-type": "text/html"}, content=PAGE, request=request
        )
    return None


def _after(seen: Seen, request: httpx.Request, response: httpx.Response) -> httpx.Response:
    seen.status = response.status_code
    seen.replayed = response.headers.get("idempotent-replayed") == "true"
    if seen.action == "504-after":
        return httpx.Response(504, content=PAGE, request=request)
    if seen.action == "drop-after":
        raise httpx.ReadError("connection reset by peer", request=request)
    return response


class Gateway(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, script: Script) -> None:
        self.inner = inner
        self.script = script

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        seen = self.script.next(request)
        own = _answer(seen, request)
        if own is not None:
            return own
        response = self.inner.handle_request(request)
        response.read()
        return _after(seen, request, response)


class AsyncGateway(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, script: Script) -> None:
        self.inner = inner
        self.script = script

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        seen = self.script.next(request)
        own = _answer(seen, request)
        if own is not None:
            return own
        response = await self.inner.handle_async_request(request)
        await response.aread()
        return _after(seen, request, response)
