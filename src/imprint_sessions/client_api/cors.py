"""CORS for the client API (``/v2/client/*`` only), as a small pure-ASGI middleware.

A browser may read a client API response from: the service's own origin, a localhost origin in
the sandbox, and the origins of the partner the request's client credential belongs to (a call
without one, such as the exchange, and a preflight, which carries no credential: any partner's).
Every client API response says ``Vary: Origin``; a refused preflight is a 403, a refused request
simply gets no ``Access-Control-Allow-Origin``, so the browser withholds the response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imprint_sessions.client_api.auth import bearer_token
from imprint_sessions.domain.origins import normalise_origin
from imprint_sessions.services import Services

PREFIX: Final = "/v2/client/"
ALLOWED_METHODS: Final = "GET, POST"
ALLOWED_HEADERS: Final = "authorization, content-type, idempotency-key, request-id"
# The sandbox's test-fault header, so a partner's front end can fault its own calls.
SANDBOX_ALLOWED_HEADERS: Final = f"{ALLOWED_HEADERS}, imprint-test-fault"
EXPOSED_HEADERS: Final = "request-id, retry-after"
PREFLIGHT_MAX_AGE_SECONDS: Final = 600


class ClientCorsMiddleware:
    def __init__(
        self, app: ASGIApp, *, render_error: Callable[[str, int, list[str]], bytes]
    ) -> None:
        self.app = app
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        preflight = (
            scope["method"] == "OPTIONS"
            and origin is not None
            and "access-control-request-method" in headers
        )
        allowed = origin is not None and await self._allowed(scope, headers, origin, preflight)
        if preflight:
            await self._answer_preflight(scope, send, origin if allowed else None)
            return
        extra = [(b"vary", b"Origin")]
        if allowed and origin is not None:
            extra += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            ]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _allowed(self, scope: Scope, headers: Headers, origin: str, preflight: bool) -> bool:
        if normalise_origin(origin) != origin:  # "null", or not as a browser spells one
            return False
        services: Services = scope["app"].state.services
        partner_id = None
        if not preflight:
            claims = services.box.verify_client_token(bearer_token(headers.get("authorization")))
            partner_id = claims.partner_id if claims is not None else None
        host = headers.get("host")
        request_origin = f"{scope.get('scheme', 'http')}://{host}" if host else None
        return await services.origin_policy.allows(
            services.database.repositories,
            origin,
            request_origin=normalise_origin(request_origin),
            partner_id=partner_id,
        )

    async def _answer_preflight(self, scope: Scope, send: Send, origin: str | None) -> None:
        headers = [(b"vary", b"Origin")]
        if origin is None:
            status = 403
            body = self.render_error(
                scope["path"], 403, ["origin: is not allowed to call the client API"]
            )
            headers.append((b"content-type", b"application/json"))
        else:
            status, body = 204, b""
            services: Services = scope["app"].state.services
            allowed = SANDBOX_ALLOWED_HEADERS if services.settings.sandbox else ALLOWED_HEADERS
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                (b"access-control-allow-headers", allowed.encode()),
                (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_SECONDS).encode()),
            ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
