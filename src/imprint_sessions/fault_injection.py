"""Sandbox fault injection at the edge: the ``Imprint-Test-Fault`` header, declared faults
(``domain/faults.py``) applied to a partner's own requests, and closing a connection unanswered.

Faults are looked for only after the caller is authenticated (a bad credential is a 401 whatever
the header says), and only in the sandbox: production builds no ``FaultInjector`` at all, so no
header is read and no fault row is ever looked at. A forced error is raised as the domain error
it imitates (``RateLimited``, ``ServiceUnavailable``, ``ForcedServerError``) and rendered by the
one error renderer, so it has the real error's body and headers (``Retry-After``,
``Request-Id``); nothing runs behind it, so it changes nothing in the database (but the fault's
own count of uses).

The header's grammar (also in the served OpenAPI and the README): ``;``-separated parameters,
each ``name=value`` or a bare name, at most one of each:

- ``status=429|500|503``, with ``retry_after=<1..3600>`` for 429 and 503 (default 1);
- ``drop``: close the connection without an answer;
- ``delay_ms=<1..30000>``: wait first (alone: then the request runs as usual).

``status=503; retry_after=2``, ``delay_ms=300``, ``drop``, ``delay_ms=100; status=500``. Anything
else is a 400 naming the header. The header wins over a declared fault, which is then not used.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain import faults
from imprint_sessions.domain.faults import FaultAction, FaultIndex
from imprint_sessions.errors import (
    ForcedServerError,
    InvalidRequest,
    RateLimited,
    ServiceUnavailable,
)
from imprint_sessions.storage.repositories import Repositories

__all__ = [
    "FAULT_HEADER",
    "FAULT_HEADER_DESCRIPTION",
    "OPERATION_SCOPE_KEY",
    "ConnectionDropMiddleware",
    "DropConnection",
    "FaultInjector",
    "parse_fault_header",
]

log = logging.getLogger(__name__)

FAULT_HEADER: Final = "Imprint-Test-Fault"
_FAULT_HEADER_KEY: Final = FAULT_HEADER.lower().encode("latin-1")
# Where the hot paths (served past FastAPI's router, so with no route in the scope) name their
# operation.
OPERATION_SCOPE_KEY: Final = "imprint.operation_id"
_MAX_HEADER_CHARS: Final = 200
_RULE: Final = (
    "must be ;-separated parameters: status=429|500|503 (retry_after=1..3600 with 429 or 503), "
    f"drop, delay_ms=1..{faults.MAX_DELAY_MS}"
)

FAULT_HEADER_DESCRIPTION: Final = f"""\
Sandbox only: make this request fail on purpose, to test your retry handling. `;`-separated
parameters: `status=429|500|503` answers that error instead (the real error's body and headers;
`retry_after=N`, 1 to 3600 seconds, sets `Retry-After` on 429 and 503, default 1); `drop` closes
the connection without any answer; `delay_ms=N` (1 to {faults.MAX_DELAY_MS}) waits first, and alone
lets the request run late. Examples: `status=503; retry_after=2`, `delay_ms=300`, `drop`,
`delay_ms=100; status=500`. Applied once your credential is accepted; nothing is changed by a
forced error. A malformed value (or one over 200 characters) is a 400 naming this header.
Faults can also be declared ahead (`POST /v2/test_helpers/faults`)."""


class DropConnection(Exception):
    """Close the client's connection without an answer (``ConnectionDropMiddleware``)."""


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest(f"{FAULT_HEADER.lower()}: {problem}")


def parse_fault_header(value: str) -> FaultAction:
    """The action the header asks for; ``InvalidRequest`` naming the header otherwise."""
    if len(value) > _MAX_HEADER_CHARS or not value.isascii():
        raise _invalid(_RULE)
    seen: dict[str, str | None] = {}
    for part in value.split(";"):
        name, equals, given = part.strip().partition("=")
        name, given = name.strip().lower(), given.strip()
        if not name or name in seen or name not in ("status", "retry_after", "delay_ms", "drop"):
            raise _invalid(_RULE)
        if (name == "drop") == bool(equals):
            raise _invalid(_RULE)
        seen[name] = given if equals else None
    if "status" in seen and seen["status"] not in {str(code) for code in faults.STATUSES}:
        raise _invalid("status must be 429, 500 or 503")
    status = _number(seen, "status", 429, 503)
    retry_after = _number(seen, "retry_after", 1, faults.MAX_RETRY_AFTER_SECONDS)
    delay_ms = _number(seen, "delay_ms", 1, faults.MAX_DELAY_MS)
    drop = "drop" in seen
    if status is not None and drop:
        raise _invalid("status and drop exclude each other")
    if retry_after is not None and status not in faults.RETRY_AFTER_STATUSES:
        raise _invalid("retry_after goes with status=429 or status=503")
    if status is None and not drop and delay_ms is None:
        raise _invalid(_RULE)
    if status in faults.RETRY_AFTER_STATUSES and retry_after is None:
        retry_after = faults.DEFAULT_RETRY_AFTER_SECONDS
    return FaultAction(
        delay_ms=delay_ms or 0, status=status, retry_after=retry_after, drop=drop, fault_id=None
    )


def _number(seen: dict[str, str | None], name: str, low: int, high: int) -> int | None:
    if name not in seen:
        return None
    given = seen[name] or ""
    if not given.isdigit() or not low <= int(given) <= high:
        raise _invalid(f"{name} must be an integer from {low} to {high}")
    return int(given)


def header_value(scope: Scope) -> str | None:
    """The request's ``Imprint-Test-Fault``, read straight from the raw headers (cheap)."""
    for name, value in scope["headers"]:
        if name == _FAULT_HEADER_KEY:
            return str(value.decode("latin-1"))
    return None


def operation_id(scope: Scope) -> str | None:
    """The operationId of the route serving this request, if any."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "operation_id", None)
    return scope.get(OPERATION_SCOPE_KEY)


async def perform(action: FaultAction, *, operation: str | None) -> None:
    """Do what ``action`` says: wait, then raise the error it forces or drop the connection."""
    source = f"fault {action.fault_id}" if action.fault_id else f"the {FAULT_HEADER} header"
    log.info(
        "test fault applied",
        extra={
            "fault_id": action.fault_id,
            "operation": operation,
            "status": action.status,
            "delay_ms": action.delay_ms,
            "drop": action.drop,
        },
    )
    if action.delay_ms:
        await asyncio.sleep(action.delay_ms / 1000)
    if action.drop:
        raise DropConnection()
    detail = f"test fault: a forced {action.status} ({source})"
    if action.status == 429:
        raise RateLimited(detail, retry_after=action.retry_after or 1)
    if action.status == 503:
        raise ServiceUnavailable(detail, retry_after=action.retry_after or 1)
    if action.status == 500:
        raise ForcedServerError(detail)


class FaultInjector:
    """Where the surfaces look for faults (one per process, sandbox only)."""

    def __init__(self, index: FaultIndex | None = None) -> None:
        self.index = index or FaultIndex()

    async def before_operation(
        self, request: Request, repos: Repositories, *, partner_id: str
    ) -> None:
        """Apply the request's header, else the partner's oldest fault on this operation."""
        scope = request.scope
        operation = operation_id(scope)
        if operation not in faults.FAULTABLE_OPERATIONS:
            return  # the test helpers themselves: a fault must always be deletable
        value = header_value(scope)
        if value is not None:
            await perform(parse_fault_header(value), operation=operation)
            return
        targets = self.index.current()
        if targets is not None and operation not in targets.operations.get(partner_id, ()):
            return  # the common case, decided without a coroutine or a query
        fault = await faults.consume_operation_fault(
            repos, self.index, partner_id=partner_id, operation=operation
        )
        if fault is not None:
            await perform(faults.action_of(fault), operation=operation)

    async def before_exchange(
        self, request: Request, repos: Repositories, *, box: SecretBox, client_secret: str
    ) -> None:
        """The exchange's caller is a genuine client secret (its MAC verified; it is not
        consumed): the header, else a fault of the partner that owns the secret's session."""
        value = header_value(request.scope)
        if value is None:
            targets = self.index.current() or await self.index.targets(repos)
            if not targets.exchange:
                return  # nobody has an exchange fault: the MAC is not even checked twice
        session_id = box.verify_client_secret(client_secret)
        if session_id is None:
            return  # not genuine: the exchange refuses it as it would anyway
        if value is not None:
            await perform(parse_fault_header(value), operation=faults.EXCHANGE_OPERATION)
            return
        fault = await faults.consume_exchange_fault(
            repos, self.index, customer_session_id=session_id
        )
        if fault is not None:
            await perform(faults.action_of(fault), operation=faults.EXCHANGE_OPERATION)

    async def hosted_outcome(self, repos: Repositories, *, partner_id: str) -> str | None:
        return await faults.consume_hosted_outcome(repos, self.index, partner_id=partner_id)


def _server_transport(receive: Receive) -> Any:
    """The connection's transport, where the server exposes it: uvicorn's ``receive`` is a
    method of its request cycle, which holds the asyncio transport."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    return transport if callable(getattr(transport, "abort", None)) else None


class ConnectionDropMiddleware:
    """Closes the connection of a request that raised ``DropConnection``, without an answer.

    ASGI has no message for it, so the server's transport is taken from the ``receive`` it
    handed in (uvicorn's, which ``serve`` runs); mounted only in the sandbox, just inside
    ``RequestIdMiddleware`` (which logs the request with no status). Under a server that does
    not expose its transport (an in-process test client), the exception propagates to it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            transport = _server_transport(receive)
            if transport is None:
                raise
            log.info("connection dropped on purpose (test fault)")
            transport.abort()
            # Let the server see the connection go before the app returns: uvicorn then treats
            # it as a client that went away, and neither logs nor tries an answer.
            for _ in range(3):
                await asyncio.sleep(0)
