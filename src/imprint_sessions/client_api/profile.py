"""``/v2/client/profile``: the customer's own profile, to read and to edit."""

from __future__ import annotations

from fastapi import APIRouter, Request

from imprint_sessions.client_api.auth import ClientAuth
from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.deps import Svc
from imprint_sessions.domain import profiles
from imprint_sessions.json_body import JsonBody
from imprint_sessions.wire.client import (
    Profile,
    ProfileUpdate,
    dates_as_of,
    profile_out,
)

router = APIRouter(prefix="/v2/client", tags=["Client API"])
_BODY = JsonBody(ProfileUpdate)


@router.get(
    "/profile",
    operation_id="getClientProfile",
    summary="Read the customer's profile",
    response_model=Profile,
    responses=client_error_responses(401, 503),
)
async def get_profile(principal: ClientAuth) -> Profile:
    """Returns the profile, with what the session's customer history can pre-fill."""
    return profile_out(principal.customer, principal.context)


@router.post(
    "/profile",
    operation_id="updateClientProfile",
    summary="Edit the customer's profile",
    response_model=Profile,
    responses=client_error_responses(400, 401, 413, 503),
    openapi_extra=_BODY.openapi,
)
async def update_profile(request: Request, services: Svc, principal: ClientAuth) -> Profile:
    """Changes the fields sent (``null`` clears one); a new phone must be verified again."""
    body = await _BODY.read(request, context=dates_as_of(services.clock))
    customer = await profiles.update_profile(
        services.database.repositories,
        principal=principal,
        clock=services.clock,
        changes=body.changes(),
    )
    return profile_out(customer, principal.context)
