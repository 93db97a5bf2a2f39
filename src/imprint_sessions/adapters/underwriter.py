"""An external underwriter over HTTP, as a ``DecisionEngine``.

The application is POSTed as JSON to ``IMPRINT_UNDERWRITER_URL``::

    {"application": {...the answers...}, "customer": {"id", "partner_customer_id"},
     "customer_history": {...}}

and the reply is read as ``{"status": "APPROVED" | "PENDING_REVIEW" | "REJECTED",
"offer": {"credit_limit" | "amount", "currency", "apr", "term_months"}, "reason"}``. Anything
else (a timeout, a refused connection, a non-2xx status, a reply that does not parse, an approval
without a usable offer) becomes PENDING_REVIEW: a person decides, the customer never sees a 500.
Nothing of the application is logged.
"""

from __future__ import annotations

import logging
from typing import Literal

import httpx
import pydantic

from imprint_sessions.domain.decisions import (
    APPROVED,
    DEFAULT_CURRENCY,
    PENDING_REVIEW,
    ApplicationInput,
    Decision,
    Offer,
)
from imprint_sessions.storage.records import Customer

log = logging.getLogger(__name__)


class _ReplyOffer(pydantic.BaseModel):
    credit_limit: int | None = pydantic.Field(default=None, ge=1)
    amount: int | None = pydantic.Field(default=None, ge=1)
    currency: str = pydantic.Field(default=DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")
    apr: str = pydantic.Field(pattern=r"^\d{1,2}\.\d{2}$")
    term_months: int | None = pydantic.Field(default=None, ge=1, le=600)


class _Reply(pydantic.BaseModel):
    status: Literal["APPROVED", "PENDING_REVIEW", "REJECTED"]
    offer: _ReplyOffer | None = None
    reason: str | None = pydantic.Field(default=None, max_length=500)


class HttpUnderwriter:
    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        self._url = url
        self._timeout = timeout_seconds

    async def decide(self, application: ApplicationInput, customer: Customer) -> Decision:
        body = {
            "application": application.answers(),
            "customer": {"id": customer.id, "partner_customer_id": customer.partner_customer_id},
            "customer_history": application.customer_history,
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json=body)
            response.raise_for_status()
            reply = _Reply.model_validate_json(response.content)
        except httpx.TimeoutException:
            log.warning("underwriter timed out", extra={"timeout_seconds": self._timeout})
            return Decision(PENDING_REVIEW, None, "underwriter: timed out")
        except (httpx.HTTPError, pydantic.ValidationError) as exc:
            log.warning("underwriter failed", extra={"error": type(exc).__name__})
            return Decision(PENDING_REVIEW, None, "underwriter: unavailable")
        return _decision(reply, application)


def _decision(reply: _Reply, application: ApplicationInput) -> Decision:
    if reply.status != APPROVED:
        return Decision(reply.status, None, reply.reason)
    offer = reply.offer
    usable = offer is not None and (
        offer.credit_limit is not None
        if application.type == "CARD"
        else offer.amount is not None and offer.term_months is not None
    )
    if offer is None or not usable:
        log.warning("underwriter approved without a usable offer")
        return Decision(PENDING_REVIEW, None, "underwriter: approval without a usable offer")
    return Decision(
        APPROVED,
        Offer(
            currency=offer.currency,
            apr=offer.apr,
            credit_limit=offer.credit_limit if application.type == "CARD" else None,
            amount=offer.amount if application.type == "LOAN" else None,
            term_months=offer.term_months,
        ),
        reply.reason,
    )
