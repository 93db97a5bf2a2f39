"""``/v2/client/payment_methods``: the customer's own cards and loans; lock and unlock a card."""

from __future__ import annotations

from fastapi import APIRouter

from imprint_sessions.client_api.auth import ClientAuth
from imprint_sessions.client_api.errors_doc import client_error_responses
from imprint_sessions.deps import Svc
from imprint_sessions.domain import payment_methods
from imprint_sessions.wire.client import (
    PaymentMethodList,
    PaymentMethodOut,
    payment_method_out,
)

router = APIRouter(prefix="/v2/client", tags=["Client API"])


@router.get(
    "/payment_methods",
    operation_id="listClientPaymentMethods",
    summary="The customer's cards and loans",
    response_model=PaymentMethodList,
    responses=client_error_responses(401, 503),
)
async def list_payment_methods(services: Svc, principal: ClientAuth) -> PaymentMethodList:
    """Lists the customer's payment methods, oldest first; cards show only their last four."""
    found = await payment_methods.list_payment_methods(
        services.database.repositories, principal=principal
    )
    return PaymentMethodList(data=[payment_method_out(pm) for pm in found])


async def _set_lock(
    services: Svc, principal: ClientAuth, payment_method_id: str, *, locked: bool
) -> PaymentMethodOut:
    async with services.database.unit_of_work() as uow:
        changed = await payment_methods.set_card_lock(
            uow.repositories,
            principal=principal,
            clock=services.clock,
            payment_method_id=payment_method_id,
            locked=locked,
        )
        await uow.commit()
    return payment_method_out(changed)


@router.post(
    "/payment_methods/{payment_method_id}/lock",
    operation_id="lockClientPaymentMethod",
    summary="Lock a card",
    response_model=PaymentMethodOut,
    responses=client_error_responses(401, 404, 409, 503),
)
async def lock(payment_method_id: str, services: Svc, principal: ClientAuth) -> PaymentMethodOut:
    """Locks the card (status INACTIVE); locking a locked card changes nothing."""
    return await _set_lock(services, principal, payment_method_id, locked=True)


@router.post(
    "/payment_methods/{payment_method_id}/unlock",
    operation_id="unlockClientPaymentMethod",
    summary="Unlock a card",
    response_model=PaymentMethodOut,
    responses=client_error_responses(401, 404, 409, 503),
)
async def unlock(payment_method_id: str, services: Svc, principal: ClientAuth) -> PaymentMethodOut:
    """Unlocks the card (status ACTIVE); unlocking an active card changes nothing."""
    return await _set_lock(services, principal, payment_method_id, locked=False)
