"""FastAPI dependency aliases shared by every surface (``Svc``: the process's services), and who
a request acts as in the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imprint_sessions.domain import audit
from imprint_sessions.middleware import REQUEST_ID_SCOPE_KEY
from imprint_sessions.services import Services
from imprint_sessions.storage.records import AuditContext, Principal


# Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool,
# which cost a third of create-session's throughput (BENCHMARKS.md).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]


def _origin(request: Request) -> tuple[str | None, str | None]:
    """The request's id (``middleware.RequestIdMiddleware``'s) and the client's address (the
    peer, as the access log's ``client_ip``: a proxy's, unless the server trusts its
    ``X-Forwarded-For``)."""
    scope = request.scope
    client = scope.get("client")
    return scope.get(REQUEST_ID_SCOPE_KEY), client[0] if client else None


def partner_actor(request: Request, principal: Principal) -> AuditContext:
    """The API key a partner-API request acts with, for the audit trail."""
    request_id, client_address = _origin(request)
    return audit.api_key_actor(principal, request_id=request_id, client_address=client_address)


def client_actor(request: Request) -> AuditContext:
    """The browser calling the client API, for the audit trail."""
    request_id, client_address = _origin(request)
    return audit.client_actor(request_id=request_id, client_address=client_address)


def console_actor(request: Request, operator_id: str, operator_name: str) -> AuditContext:
    """The operator signed in to the console, for the audit trail."""
    request_id, client_address = _origin(request)
    return audit.console_operator_actor(
        operator_id, operator_name, request_id=request_id, client_address=client_address
    )
