"""The hot paths, dispatched straight to their route functions, past FastAPI's router.

Create-session, retrieve-session and the client-secret exchange are the calls a partner's
"Apply" click and the browser make on every application. FastAPI's per-request machinery
(walking the included routers to match the path, resolving the dependency graph) cost about a
third of their CPU (BENCHMARKS.md, "Where the time goes"). This middleware recognises exactly
those three method/path pairs, resolves their dependencies by calling the same dependency
functions the routes declare, in the same order, and calls the same route functions. Everything
else, including any request these three would reject before their body (a path id over the
length limit, another method), goes through FastAPI unchanged, and the routes stay the source of
the OpenAPI documentation.

Errors are rendered as the app's exception handlers render them: domain errors through
``app.error_response``, a client that went away through ``app.client_disconnected_response``;
anything unexpected propagates to Starlette's ``ServerErrorMiddleware`` and its 500 handler, as
from a route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from imprint_sessions.client_api.exchange import exchange
from imprint_sessions.errors import ImprintError
from imprint_sessions.fault_injection import OPERATION_SCOPE_KEY
from imprint_sessions.observability.metrics import ROUTE_SCOPE_KEY
from imprint_sessions.partner_api.auth import (
    MERCHANT_KEY_HEADER,
    authenticate_partner,
    resolve_merchant_key,
)
from imprint_sessions.partner_api.customer_sessions import create_session, get_session
from imprint_sessions.partner_api.idempotency import IDEMPOTENCY_KEY_HEADER, idempotent
from imprint_sessions.services import Services
from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH

Handler = Callable[[Request, Services], Awaitable[Response]]
ErrorRenderer = Callable[[Request, ImprintError], Response]

_SESSIONS = "/v2/customer_sessions"
_SESSION_PREFIX = "/v2/customer_sessions/"
_EXCHANGE = "/v2/client/exchange"


async def _create_session(request: Request, services: Services) -> Response:
    principal = await authenticate_partner(request, services)
    merchant_key = await resolve_merchant_key(principal, request.headers.get(MERCHANT_KEY_HEADER))
    idempotency = await idempotent(
        request, services, principal, request.headers.get(IDEMPOTENCY_KEY_HEADER)
    )
    return await create_session(request, services, principal, merchant_key, idempotency)


async def _get_session(request: Request, services: Services) -> Response:
    principal = await authenticate_partner(request, services)
    return await get_session(request.scope["path"][len(_SESSION_PREFIX) :], services, principal)


# The routes' operationIds (sandbox test faults name them), and their templates (the metrics').
_OPERATION_IDS: dict[Handler, str] = {
    _create_session: "createSession",
    _get_session: "getSession",
    exchange: "exchangeClientSecret",
}
_ROUTES: dict[Handler, str] = {
    _create_session: _SESSIONS,
    _get_session: _SESSION_PREFIX + "{session_id}",
    exchange: _EXCHANGE,
}


def _handler(scope: Scope) -> Handler | None:
    method: str = scope["method"]
    path: str = scope["path"]
    if method == "POST":
        if path == _SESSIONS:
            return _create_session
        if path == _EXCHANGE:
            return exchange  # no dependency but the services
    elif method == "GET" and path.startswith(_SESSION_PREFIX):
        session_id = path[len(_SESSION_PREFIX) :]
        if session_id and "/" not in session_id and len(session_id) <= IDENTIFIER_MAX_LENGTH:
            return _get_session
    return None


class HotPathMiddleware:
    """Serves the three hot operations directly; passes every other request to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        error_response: ErrorRenderer,
        client_disconnected_response: Callable[[Request], Response],
    ) -> None:
        self.app = app
        self.error_response = error_response
        self.client_disconnected_response = client_disconnected_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = _handler(scope) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        scope[OPERATION_SCOPE_KEY] = _OPERATION_IDS[handler]  # no route names it here
        scope[ROUTE_SCOPE_KEY] = _ROUTES[handler]
        request = Request(scope, receive, send)
        services: Services = scope["app"].state.services
        try:
            response = await handler(request, services)
        except ImprintError as exc:
            response = self.error_response(request, exc)
        except ClientDisconnect:
            response = self.client_disconnected_response(request)
        await response(scope, receive, send)
