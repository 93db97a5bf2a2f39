"""The app in this process, for the synchronous client: an httpx transport that hands each
request to httpx's own ``ASGITransport`` on an event loop in a thread of its own.

``httpx.ASGITransport`` is async only, and Starlette's ``TestClient`` (the usual bridge) is
deprecated with httpx. This is the same bridge, written out: the app, its lifespan and its
database all run on the portal's loop; the client's thread blocks until the answer is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class PortalTransport(httpx.BaseTransport):
    def __init__(self, portal: BlockingPortal, app: Any) -> None:
        self._portal = portal
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def send() -> httpx.Response:
            forwarded = httpx.Request(
                request.method,
                request.url,
                headers=request.headers,
                content=content,
                extensions=request.extensions,
            )
            response = await self._inner.handle_async_request(forwarded)
            body = await response.aread()
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=body,
                extensions=response.extensions,
            )

        return self._portal.call(send)


@contextmanager
def running(app: Any) -> Iterator[BlockingPortal]:
    """The app's lifespan entered on a portal's loop, for as long as the block runs."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        yield portal
