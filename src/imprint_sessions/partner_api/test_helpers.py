"""``/v2/test_helpers/...`` (sandbox only; not mounted in production, so a 404 like any unknown
path): declared test faults, and webhook events fired on demand, for testing a partner's retry
and completion handlers (Stripe's test helpers, Plaid's ``/sandbox/item/fire_webhook``).

Declared faults live in the database, so every ``serve`` process applies them; they are applied
by ``fault_injection.py``, with the ``Imprint-Test-Fault`` header that faults a single request.
``add_test_helpers_openapi`` documents, in the sandbox's served spec, that header and the
statuses it can force on every operation it applies to.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from imprint_sessions.deps import Svc
from imprint_sessions.domain import faults, simulations
from imprint_sessions.domain.faults import FaultDeclaration, FaultIndex
from imprint_sessions.fault_injection import FAULT_HEADER, FAULT_HEADER_DESCRIPTION
from imprint_sessions.json_body import JsonBody
from imprint_sessions.partner_api.auth import MerchantKey, PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import IDEMPOTENT_RESPONSES, Idempotency
from imprint_sessions.partner_api.rendering import json_response
from imprint_sessions.services import Services
from imprint_sessions.storage.records import Page
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH
from imprint_sessions.wire.partner import InvalidRequestError
from imprint_sessions.wire.test_helpers import (
    FAULT,
    FAULT_LIST,
    CreateFaultRequest,
    DeletedFault,
    Fault,
    FaultList,
    FireWebhookEventRequest,
)
from imprint_sessions.wire.webhooks import WebhookEvent, render_event

TAG = "Test helpers"
router = APIRouter(tags=[TAG])
_CREATE = JsonBody(CreateFaultRequest)
_FIRE = JsonBody(FireWebhookEventRequest)

FaultIdPath = Annotated[
    str,
    Path(
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The fault's id (one of yours)",
        examples=["9A1C2B3D-4E5F-4A6B-8C7D-0E1F2A3B4C5D"],
    ),
]


def _index(services: Services) -> FaultIndex | None:
    return services.faults.index if services.faults is not None else None


@router.post(
    "/v2/test_helpers/faults",
    operation_id="createFault",
    summary="Declare a test fault (sandbox only)",
    response_model=Fault,
    response_model_exclude_none=True,
    responses={**error_responses(400, 401, 404, 413, 429, 503), **IDEMPOTENT_RESPONSES},
    openapi_extra=_CREATE.openapi,
)
async def create_fault(
    request: Request, services: Svc, principal: PartnerAuth, idempotency: Idempotency
) -> Response:
    """Makes your next requests (or deliveries, or hosted-page starts) fail the way you choose."""
    body = await _CREATE.read(request)
    declaration = FaultDeclaration(**body.model_dump(exclude_none=True))

    async def declare(repos: Repositories) -> Response:
        fault = await faults.declare_fault(
            repos,
            clock=services.clock,
            partner_id=principal.partner_id,
            declaration=declaration,
            index=_index(services),
        )
        return json_response(FAULT(fault))

    return await idempotency.run(declare)


@router.get(
    "/v2/test_helpers/faults",
    operation_id="listFaults",
    summary="List your test faults (sandbox only)",
    response_model=FaultList,
    response_model_exclude_none=True,
    responses=error_responses(401, 429, 503),
)
async def list_faults(services: Svc, principal: PartnerAuth) -> Response:
    """Lists your faults, oldest first, with the uses each has left."""
    repos = services.database.repositories
    found = await faults.list_faults(repos, partner_id=principal.partner_id)
    return json_response(FAULT_LIST(Page(items=found, has_more=False, total=len(found))))


@router.delete(
    "/v2/test_helpers/faults/{fault_id}",
    operation_id="deleteFault",
    summary="Delete a test fault (sandbox only)",
    response_model=DeletedFault,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def delete_fault(fault_id: FaultIdPath, services: Svc, principal: PartnerAuth) -> Response:
    """Deletes a fault: from now on it applies to nothing, on every process."""
    deleted = await faults.delete_fault(
        services.database.repositories,
        partner_id=principal.partner_id,
        fault_id=fault_id,
        index=_index(services),
    )
    return json_response(DeletedFault(id=deleted.id).model_dump(mode="json"))


@router.post(
    "/v2/test_helpers/webhook_events",
    operation_id="fireWebhookEvent",
    summary="Fire a webhook event (sandbox only)",
    response_model=WebhookEvent,
    responses={
        **error_responses(400, 401, 404, 413, 429, 503),
        **IDEMPOTENT_RESPONSES,
        403: {
            "description": "The merchant key is not one of yours",
            "model": InvalidRequestError,
        },
    },
    openapi_extra=_FIRE.openapi,
)
async def fire_webhook_event(
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    merchant_key: MerchantKey,
    idempotency: Idempotency,
) -> Response:
    """Sends one event of any type for one of your customers, signed and retried like real ones."""
    body = await _FIRE.read(request)

    async def fire(repos: Repositories) -> Response:
        async def record(repos: Repositories) -> WebhookEvent:
            event = await simulations.fire_webhook_event(
                repos,
                clock=services.clock,
                principal=principal,
                merchant_key=merchant_key,
                event_type=body.type,
                customer_id=body.customer_id,
                partner_customer_id=body.partner_customer_id,
                status=body.status,
                payment_method_id=body.payment_method_id,
                previous_status=body.previous_status,
                new_status=body.new_status,
            )
            return render_event(event)

        if repos is services.database.repositories:
            # No Idempotency-Key: the reads and the event's write still belong together.
            async with services.database.unit_of_work() as uow:
                fired = await record(uow.repositories)
                await uow.commit()
        else:  # the Idempotency-Key's unit of work, which commits with its record
            fired = await record(repos)
        return Response(fired.model_dump_json(), media_type="application/json")

    return await idempotency.run(fire)


# -- the served spec ------------------------------------------------------------------------------
_REF = "#/components/schemas/"
_FAULT_STATUSES = (400, 429, 500, 503)
_FAULT_DESCRIPTIONS = {
    400: "Invalid request (in the sandbox, also a malformed Imprint-Test-Fault header)",
    429: "Too many requests (in the sandbox, also a test fault's); retry after Retry-After",
    500: "An unexpected error (in the sandbox, also a test fault's)",
    503: "Temporarily unavailable (in the sandbox, also a test fault's); see Retry-After",
}
_RETRY_AFTER = {
    "description": "Seconds to wait before retrying (a test fault's 429 and 503 always send it)",
    "schema": {"type": "integer", "minimum": 1},
}


def add_test_helpers_openapi(spec: dict[str, Any]) -> None:
    """Every faultable operation takes the ``Imprint-Test-Fault`` header and declares every
    status a test fault can answer, in the shape the real error has."""
    parameter = {
        "name": FAULT_HEADER,
        "in": "header",
        "required": False,
        "description": FAULT_HEADER_DESCRIPTION,
        # No maxLength: the grammar bounds a value (a long one is malformed, not "too long").
        "schema": {"type": "string"},
    }
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if operation.get("operationId") not in faults.FAULTABLE_OPERATIONS:
                continue
            operation.setdefault("parameters", []).append(copy.deepcopy(parameter))
            model = "ClientApiError" if path.startswith("/v2/client/") else "InvalidRequestError"
            responses = operation["responses"]
            for status in _FAULT_STATUSES:
                response = responses.setdefault(
                    str(status),
                    {
                        "description": _FAULT_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": {"$ref": _REF + model}}},
                    },
                )
                if status in (429, 503):
                    headers = response.setdefault("headers", {})
                    headers.setdefault("Retry-After", _RETRY_AFTER)
