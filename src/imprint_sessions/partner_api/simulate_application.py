"""``POST /v2/simulate_application`` (sandbox only): drive a customer's application to a decision
through the hosted flow's own domain code, so the partner's webhook handlers can be tested."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc, partner_actor
from imprint_sessions.domain import simulations
from imprint_sessions.errors import Forbidden
from imprint_sessions.json_body import JsonBody
from imprint_sessions.partner_api.auth import MerchantKey, PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import IDEMPOTENT_RESPONSES, Idempotency
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.wire.partner import InvalidRequestError, _ResponseBody
from imprint_sessions.wire.webhooks import SimulateApplicationRequest

router = APIRouter(tags=["Sandbox"])
_BODY = JsonBody(SimulateApplicationRequest)


class SimulatedApplication(_ResponseBody):
    """The decided application; the webhooks it causes are on their way."""

    customer_id: str = Field(examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"])
    partner_customer_id: str | None = Field(default=None, examples=["CUST_03476998"])
    application_id: str = Field(examples=["3C2B1A0F-9E8D-4C7B-A6F5-E4D3C2B1A0F9"])
    status: str = Field(examples=["OFFER_ACCEPTED"])
    payment_method_id: str | None = Field(
        default=None,
        description="The card created by an accepted offer",
        examples=["5B1D2F3E-8A7C-4E6D-9F0A-1B2C3D4E5F60"],
    )
    updated_at: str = Field(examples=["2025-02-13T19:09:51.000Z"])


_RESPONSES = {
    **error_responses(400, 401, 404, 429, 503),
    **IDEMPOTENT_RESPONSES,
    403: {
        "description": "Not the sandbox (or a merchant key that is not the partner's)",
        "model": InvalidRequestError,
    },
}


@router.post(
    "/v2/simulate_application",
    operation_id="simulateApplication",
    summary="Simulate an application decision (sandbox only)",
    response_model=SimulatedApplication,
    response_model_exclude_none=True,
    responses=_RESPONSES,
    openapi_extra=_BODY.openapi,
)
async def simulate_application(
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    merchant_key: MerchantKey,
    idempotency: Idempotency,
) -> Response:
    """Drives the customer's application to OFFER_ACCEPTED (a card is created) or REJECTED."""
    if not services.settings.sandbox:
        raise Forbidden("simulate_application: is only available in the sandbox")
    # Read from raw bytes after the API key is checked: without a valid key, a 401 whatever
    # the body.
    body = await _BODY.read(request)

    async def decide(repos: Repositories) -> simulations.SimulatedApplication:
        return await simulations.simulate_application(
            repos,
            clock=services.clock,
            box=services.box,
            principal=principal,
            merchant_key=merchant_key,
            ttl_seconds=services.settings.session_ttl_seconds,
            status=body.status,
            customer_id=body.customer_id,
            partner_customer_id=body.partner_customer_id,
            audit=partner_actor(request, principal),
        )

    async def simulate(repos: Repositories) -> Response:
        if repos is services.database.repositories:
            # No Idempotency-Key: the autocommit repositories. Every step must still commit
            # together (the decision, the card and their webhooks), so take a transaction.
            async with services.database.unit_of_work() as uow:
                simulated = await decide(uow.repositories)
                await uow.commit()
        else:  # the Idempotency-Key's unit of work, which commits with its record
            simulated = await decide(repos)
        wire = SimulatedApplication(
            customer_id=simulated.customer.id,
            partner_customer_id=simulated.customer.partner_customer_id,
            application_id=simulated.application.id,
            status=simulated.application.status,
            payment_method_id=simulated.payment_method.id if simulated.payment_method else None,
            updated_at=rfc3339_ms(simulated.application.updated_at),
        )
        return Response(wire.model_dump_json(exclude_none=True), media_type="application/json")

    return await idempotency.run(simulate)
