"""``/v2/client/phone/verification``: verify the profile's phone with a one-time code."""

from __future__ import annotations

from fastapi import APIRouter, Request

from imprint_sessions.client_api.auth import ClientAuth
from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc
from imprint_sessions.domain import phone_verification
from imprint_sessions.json_body import JsonBody
from imprint_sessions.wire.client import (
    ConfirmPhoneVerification,
    PhoneVerificationStarted,
    PhoneVerified,
    dates_as_of,
)

router = APIRouter(prefix="/v2/client", tags=["Client API"])
_BODY = JsonBody(ConfirmPhoneVerification)


@router.post(
    "/phone/verification",
    operation_id="startPhoneVerification",
    summary="Send a one-time code to the profile's phone",
    response_model=PhoneVerificationStarted,
    responses=client_error_responses(400, 401, 429, 503),
)
async def start(services: Svc, principal: ClientAuth) -> PhoneVerificationStarted:
    """Sends a code to the profile's phone (sandbox: none is sent, the code is 888888)."""
    expires_at = await phone_verification.start_verification(
        services.database.repositories,
        principal=principal,
        clock=services.clock,
        box=services.box,
        sender=services.otp_sender,
        sandbox=services.settings.sandbox,
        ttl_seconds=services.settings.otp_ttl_seconds,
    )
    return PhoneVerificationStarted(expires_at=rfc3339_ms(expires_at))


@router.post(
    "/phone/verification/confirm",
    operation_id="confirmPhoneVerification",
    summary="Confirm the phone with the code",
    response_model=PhoneVerified,
    responses=client_error_responses(400, 401, 413, 429, 503),
    openapi_extra=_BODY.openapi,
)
async def confirm(request: Request, services: Svc, principal: ClientAuth) -> PhoneVerified:
    """Verifies the phone; a wrong code is 400 with ``remaining_attempts``, the fifth 429."""
    body = await _BODY.read(request, context=dates_as_of(services.clock))
    await phone_verification.confirm_verification(
        services.database.repositories,
        principal=principal,
        clock=services.clock,
        box=services.box,
        code=body.code,
    )
    return PhoneVerified(phone_verified=True)
