"""``/v2/keys``: a partner creates API keys (rotation) and deletes them.

A new key is shown once, in the create response, and stored only as a keyed hash, so this
route takes no ``Idempotency-Key``: a recorded response could not be replayed without storing
the key. A retried create makes a second key, which can be deleted.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc, partner_actor
from imprint_sessions.domain import partners
from imprint_sessions.json_body import JsonBody
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import refuse_idempotency_key
from imprint_sessions.partner_api.rendering import NO_STORE, NO_STORE_RESPONSE, json_response
from imprint_sessions.wire.partner import (
    ConflictError,
    CreatedApiKey,
    DeleteApiKeyRequest,
    DeletedApiKey,
)

router = APIRouter(tags=["Keys"])
_DELETE = JsonBody(DeleteApiKeyRequest)


@router.post(
    "/v2/keys",
    operation_id="createKey",
    summary="Create an API key",
    response_model=CreatedApiKey,
    responses={
        **NO_STORE_RESPONSE,
        **error_responses(400, 401, 413, 429, 503),
        409: {
            "description": "`KEY_CONFLICT_ERROR`: you already have "
            f"{partners.MAX_ACTIVE_API_KEYS} active keys; delete one first",
            "model": ConflictError,
        },
    },
)
async def create_key(request: Request, services: Svc, principal: PartnerAuth) -> Response:
    """Creates an API key with your permissions; `api_key` is in this response only."""
    refuse_idempotency_key(request, shown_once="a new key")
    async with services.database.unit_of_work() as uow:
        issued = await partners.create_partner_api_key(
            uow.repositories,
            clock=services.clock,
            box=services.box,
            env=services.settings.env,
            principal=principal,
            audit=partner_actor(request, principal),
        )
        await uow.commit()
    record = issued.record
    return json_response(
        {
            "id": record.id,
            "api_key": issued.api_key,
            "partner_id": record.partner_id,
            "created_at": rfc3339_ms(record.created_at),
            "display_prefix": record.display_prefix,
        },
        headers=NO_STORE,
    )


@router.delete(
    "/v2/keys",
    operation_id="deleteKey",
    summary="Delete an API key",
    response_model=DeletedApiKey,
    responses={
        **error_responses(400, 401, 404, 413, 429, 503),
        409: {
            "description": "`KEY_CONFLICT_ERROR`: it is your last active key; create another first",
            "model": ConflictError,
        },
    },
    openapi_extra=_DELETE.openapi,
)
async def delete_key(request: Request, services: Svc, principal: PartnerAuth) -> Response:
    """Deletes one of your API keys (the calling key too); it stops working within a second."""
    body = await _DELETE.read(request)
    async with services.database.unit_of_work() as uow:
        revoked = await partners.delete_partner_api_key(
            uow.repositories,
            clock=services.clock,
            principal=principal,
            api_key_id=body.id,
            audit=partner_actor(request, principal),
        )
        await uow.commit()
    assert revoked.revoked_at is not None
    return json_response(
        {
            "id": revoked.id,
            "deleted": True,
            "display_prefix": revoked.display_prefix,
            "revoked_at": rfc3339_ms(revoked.revoked_at),
        }
    )
