"""API-key authentication for the partner surface: HTTP Basic (key as username) or Bearer."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import WithJsonSchema

from imprint_sessions.deps import Svc
from imprint_sessions.domain.test_clocks import follow_partner_clock
from imprint_sessions.errors import Forbidden, InvalidRequest, RateLimited
from imprint_sessions.observability.metrics import RATE_LIMIT_REJECTIONS
from imprint_sessions.ratelimit import RateLimiter
from imprint_sessions.storage.records import Principal

MERCHANT_KEY_HEADER = "x-imprint-merchant-key"


def api_key_from_authorization(header: str | None) -> str | None:
    """The key in ``Basic base64(key:)`` / ``Basic base64(key)`` or ``Bearer key``; else None."""
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer":
        return credentials or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


async def authenticate_partner(request: Request, services: Svc) -> Principal:
    """Resolve the API key to its partner, or raise the one 401 every failure shares; then count
    the request against the key's rate limit (429 over it); in the sandbox, apply a test fault
    the request or the partner declared (``fault_injection.py``), and a sandbox's test clock
    (``domain/test_clocks.py``)."""
    api_key = api_key_from_authorization(request.headers.get("authorization"))
    principal = await services.authenticator.authenticate(services.database.repositories, api_key)
    if services.rate_limiter is not None:
        await enforce_rate_limit(services.rate_limiter, principal)
    request.state.principal = principal
    if principal.test_clock:  # a sandbox with a test clock: this request follows its time
        await follow_partner_clock(services.database.repositories, principal)
    if services.faults is not None:  # the sandbox: a test fault of this partner's, if any
        await services.faults.before_operation(
            request, services.database.repositories, partner_id=principal.partner_id
        )
    return principal


async def enforce_rate_limit(limiter: RateLimiter, principal: Principal) -> None:
    decision = await limiter.hit(principal.api_key_id)
    if not decision.allowed:
        RATE_LIMIT_REJECTIONS.inc()
        raise RateLimited(
            f"api key: rate limit exceeded, at most {limiter.limit.describe()}",
            retry_after=max(1, math.ceil(decision.retry_after)),
        )


PartnerAuth = Annotated[Principal, Depends(authenticate_partner)]


async def resolve_merchant_key(
    principal: PartnerAuth,
    requested: Annotated[
        str | None,
        WithJsonSchema({"type": "string"}),  # absent, not null, when not sent
        Header(
            alias=MERCHANT_KEY_HEADER,
            description=(
                "The product this request is for, when you run several co-branded products: "
                "required then (400 without it), optional with one. Not one of yours: 403"
            ),
        ),
    ] = None,
) -> str | None:
    """The product this request is for: a partner with several must name one."""
    if requested is not None:
        if requested not in principal.merchant_keys:
            raise Forbidden(f"{MERCHANT_KEY_HEADER}: is not a merchant key of this partner")
        return requested
    if len(principal.merchant_keys) > 1:
        raise InvalidRequest(
            f"{MERCHANT_KEY_HEADER}: required, this partner has several merchant keys"
        )
    return principal.merchant_keys[0] if principal.merchant_keys else None


MerchantKey = Annotated[str | None, Depends(resolve_merchant_key)]
