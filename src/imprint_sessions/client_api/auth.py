"""Client-credential authentication for the client API: ``Authorization: Bearer ict_...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imprint_sessions.deps import Svc
from imprint_sessions.domain.client_sessions import ClientPrincipal, authenticate_client


def bearer_token(header: str | None) -> str | None:
    """The credential of ``Bearer <credential>`` (scheme case-insensitive); else None."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


async def authenticate(request: Request, services: Svc) -> ClientPrincipal:
    """The session, customer and partner the credential speaks for; one 401 for every failure
    (an API key is not a client credential). In the sandbox, then a test fault of the
    session's partner, if the request or the partner declared one (``fault_injection.py``)."""
    principal = await authenticate_client(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        access_token=bearer_token(request.headers.get("authorization")),
    )
    if services.faults is not None:  # the sandbox: a test fault of the partner's, if any
        await services.faults.before_operation(
            request, services.database.repositories, partner_id=principal.partner_id
        )
    return principal


ClientAuth = Annotated[ClientPrincipal, Depends(authenticate)]
