"""``/v2/client/applications``: apply for a card or a loan, see it, accept its offer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from imprint_sessions.client_api.auth import ClientAuth
from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.deps import Svc
from imprint_sessions.domain import applications
from imprint_sessions.domain.applications import ApplicationAnswers
from imprint_sessions.json_body import JsonBody
from imprint_sessions.wire.client import (
    AcceptedOffer,
    ApplicationOut,
    CreateApplication,
    application_out,
    dates_as_of,
    payment_method_out,
)

router = APIRouter(prefix="/v2/client", tags=["Client API"])
_BODY = JsonBody(CreateApplication)


@router.post(
    "/applications",
    operation_id="createClientApplication",
    summary="Apply for a card or a loan",
    response_model=ApplicationOut,
    responses=client_error_responses(400, 401, 409, 413, 503),
    openapi_extra=_BODY.openapi,
)
async def create_application(
    request: Request, services: Svc, principal: ClientAuth
) -> ApplicationOut:
    """Decides at once; an unfinished application for the same phone resumes at its offer."""
    body = await _BODY.read(request, context=dates_as_of(services.clock))
    fields = body.model_dump(exclude={"date_of_birth", "address"})
    answers = ApplicationAnswers(
        **fields,
        date_of_birth=body.date_of_birth.as_date() if body.date_of_birth else None,
        address=body.address.model_dump(exclude_none=True) if body.address else None,
    )
    prepared = await applications.prepare_application(
        services.database.repositories, principal=principal, clock=services.clock, answers=answers
    )
    if prepared.resumable is not None:
        async with services.database.unit_of_work() as uow:
            application = await applications.resume_application(
                uow.repositories,
                principal=principal,
                clock=services.clock,
                application=prepared.resumable,
            )
            await uow.commit()
        return application_out(application)
    assert prepared.application is not None
    # The engine may call an external underwriter: no transaction is held open meanwhile.
    decision = await services.decision_engine.decide(prepared.application, principal.customer)
    async with services.database.unit_of_work() as uow:
        application = await applications.record_decision(
            uow.repositories,
            principal=principal,
            clock=services.clock,
            application=prepared.application,
            decision=decision,
        )
        await uow.commit()
    return application_out(application)


@router.get(
    "/applications/current",
    operation_id="getCurrentClientApplication",
    summary="The customer's latest application",
    response_model=ApplicationOut,
    responses=client_error_responses(401, 404, 503),
)
async def current_application(services: Svc, principal: ClientAuth) -> ApplicationOut:
    """Returns the customer's latest application, or 404 if there is none."""
    application = await applications.current_application(
        services.database.repositories, principal=principal
    )
    return application_out(application)


@router.post(
    "/applications/{application_id}/accept",
    operation_id="acceptClientApplicationOffer",
    summary="Accept an application's offer",
    response_model=AcceptedOffer,
    responses=client_error_responses(401, 404, 409, 503),
)
async def accept_offer(application_id: str, services: Svc, principal: ClientAuth) -> AcceptedOffer:
    """Accepts an APPROVED offer: creates the card or loan and opens the customer's program."""
    async with services.database.unit_of_work() as uow:
        application, payment_method = await applications.accept_offer(
            uow.repositories,
            principal=principal,
            clock=services.clock,
            application_id=application_id,
        )
        await uow.commit()
    return AcceptedOffer(
        application=application_out(application),
        payment_method=payment_method_out(payment_method),
    )
