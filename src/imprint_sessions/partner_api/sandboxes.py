"""``/v2/test_helpers/sandboxes`` (sandbox mode only): throwaway sandboxes, each a partner of its
own with its own key, for test suites that run in parallel against one server, and their test
clocks (``domain/test_clocks.py``).

Creating one returns its API key once, so it takes no ``Idempotency-Key`` (a recorded response
would keep the key); resetting and deleting are idempotent by nature (a second delete is a 404).
Mounted only in the sandbox: in production these paths do not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from imprint_sessions.deps import Svc
from imprint_sessions.domain import sandboxes, test_clocks
from imprint_sessions.json_body import JsonBody
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import refuse_idempotency_key
from imprint_sessions.partner_api.rendering import NO_STORE, NO_STORE_RESPONSE, json_response
from imprint_sessions.storage import records
from imprint_sessions.storage.records import Page
from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH, utc_epoch_ms
from imprint_sessions.wire.partner import ConflictError, InvalidRequestError
from imprint_sessions.wire.sandboxes import (
    CREATED_SANDBOX,
    SANDBOX,
    SANDBOX_LIST,
    TEST_CLOCK,
    AdvanceTestClockRequest,
    CreatedSandbox,
    CreateSandboxRequest,
    DeletedSandbox,
    Sandbox,
    SandboxList,
    TestClock,
    test_clock_view,
)

router = APIRouter(tags=["Test helpers"])
_CREATE = JsonBody(CreateSandboxRequest)
_ADVANCE = JsonBody(AdvanceTestClockRequest)

SandboxIdPath = Annotated[
    str,
    Path(
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The sandbox's id (one you created, or the calling sandbox's own)",
        examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"],
    ),
]


@router.post(
    "/v2/test_helpers/sandboxes",
    operation_id="createSandbox",
    summary="Create a throwaway sandbox (sandbox only)",
    response_model=CreatedSandbox,
    responses={
        **NO_STORE_RESPONSE,
        **error_responses(400, 401, 413, 429, 503),
        403: {
            "description": "The caller is itself a throwaway sandbox",
            "model": InvalidRequestError,
        },
        409: {
            "description": "`SANDBOX_LIMIT_ERROR`: you already have "
            f"{sandboxes.MAX_LIVE_SANDBOXES} sandboxes; delete one first",
            "model": ConflictError,
        },
    },
    openapi_extra=_CREATE.openapi,
)
async def create_sandbox(request: Request, services: Svc, principal: PartnerAuth) -> Response:
    """Creates a sandbox of your own, empty, with its own API key (in this response only)."""
    refuse_idempotency_key(request, shown_once="a sandbox's key")
    body = await _CREATE.read(request)
    test_clock_at = None
    if body.test_clock is not None:
        asked = body.test_clock.frozen_time
        test_clock_at = test_clocks.starting_time(
            None if asked is None else utc_epoch_ms(asked), clock=services.clock
        )
    async with services.database.unit_of_work() as uow:
        issued = await sandboxes.create_sandbox(
            uow.repositories,
            clock=services.clock,
            box=services.box,
            parent_id=principal.partner_id,
            name=body.name,
            test_clock_at=test_clock_at,
        )
        await uow.commit()
    return json_response(CREATED_SANDBOX(issued.sandbox, issued.key.api_key), headers=NO_STORE)


@router.get(
    "/v2/test_helpers/sandboxes",
    operation_id="listSandboxes",
    summary="List your throwaway sandboxes (sandbox only)",
    response_model=SandboxList,
    responses=error_responses(401, 429, 503),
)
async def list_sandboxes(services: Svc, principal: PartnerAuth) -> Response:
    """Lists the sandboxes you created and have not deleted, oldest first."""
    found = await sandboxes.list_sandboxes(
        services.database.repositories, parent_id=principal.partner_id
    )
    return json_response(SANDBOX_LIST(Page(items=found, has_more=False, total=len(found))))


@router.post(
    "/v2/test_helpers/sandboxes/{sandbox_id}/reset",
    operation_id="resetSandbox",
    summary="Reset a throwaway sandbox (sandbox only)",
    response_model=Sandbox,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def reset_sandbox(
    sandbox_id: SandboxIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """Deletes everything in the sandbox (customers, sessions, webhooks, ...); keys keep working."""
    async with services.database.unit_of_work() as uow:
        sandbox = await sandboxes.reset_sandbox(
            uow.repositories, caller_id=principal.partner_id, sandbox_id=sandbox_id
        )
        await uow.commit()
    return json_response(SANDBOX(sandbox))


def _test_clock_response(sandbox: records.Sandbox) -> Response:
    view = test_clock_view(sandbox)
    assert view is not None  # the domain refuses a sandbox without a clock (404)
    return json_response(TEST_CLOCK(view))


@router.get(
    "/v2/test_helpers/sandboxes/{sandbox_id}/test_clock",
    operation_id="getTestClock",
    summary="Read a sandbox's test clock (sandbox only)",
    response_model=TestClock,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def get_test_clock(
    sandbox_id: SandboxIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """The time the sandbox's test clock shows (404 if it was created without one)."""
    sandbox = await test_clocks.get_test_clock(
        services.database.repositories, caller_id=principal.partner_id, sandbox_id=sandbox_id
    )
    return _test_clock_response(sandbox)


@router.post(
    "/v2/test_helpers/sandboxes/{sandbox_id}/test_clock/advance",
    operation_id="advanceTestClock",
    summary="Advance a sandbox's test clock (sandbox only)",
    response_model=TestClock,
    responses={
        **error_responses(400, 401, 404, 413, 429, 503),
        409: {
            "description": "`TEST_CLOCK_ADVANCE_ERROR`: `frozen_time` is earlier than the time "
            "the clock shows, or `seconds` would take it past 9999",
            "model": ConflictError,
        },
    },
    openapi_extra=_ADVANCE.openapi,
)
async def advance_test_clock(
    request: Request, sandbox_id: SandboxIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """Moves the sandbox's test clock forward, to `frozen_time` or by `seconds`: what falls due
    by then (expiry, webhook retries) does, at once for its next request, within a second for
    its webhooks. Moving to the time it shows changes nothing."""
    body = await _ADVANCE.read(request)
    async with services.database.unit_of_work() as uow:
        sandbox = await test_clocks.advance_test_clock(
            uow.repositories,
            caller_id=principal.partner_id,
            sandbox_id=sandbox_id,
            to=None if body.frozen_time is None else utc_epoch_ms(body.frozen_time),
            seconds=body.seconds,
        )
        await uow.commit()
    return _test_clock_response(sandbox)


@router.delete(
    "/v2/test_helpers/sandboxes/{sandbox_id}",
    operation_id="deleteSandbox",
    summary="Delete a throwaway sandbox (sandbox only)",
    response_model=DeletedSandbox,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def delete_sandbox(
    sandbox_id: SandboxIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """Deletes the sandbox and its data; its keys stop working within a second."""
    async with services.database.unit_of_work() as uow:
        deleted_id = await sandboxes.delete_sandbox(
            uow.repositories,
            clock=services.clock,
            caller_id=principal.partner_id,
            sandbox_id=sandbox_id,
        )
        await uow.commit()
    services.authenticator.forget_partner(deleted_id)
    return json_response(DeletedSandbox(id=deleted_id, deleted=True).model_dump(mode="json"))
