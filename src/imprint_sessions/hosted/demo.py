"""``/demo``: the sandbox's demo shop, a partner's checkout in miniature (404 in production).

Its "Apply" button does what a partner's front end does; ``POST /demo/session`` stands in for the
partner's server, creating a customer session for the sandbox partner directly (a real partner
calls ``POST /v2/customer_sessions`` with its API key, which never reaches a browser).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Final, Literal

import phonenumbers
import pydantic
from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.deps import Svc
from imprint_sessions.domain import customer_sessions, partners
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.hosted.pages import SDK_PATH, content_security_policy, html_response, render
from imprint_sessions.json_body import parse_json
from imprint_sessions.services import Services
from imprint_sessions.storage.records import Principal

PRODUCT_NAME: Final = "Weekender bag"
AMOUNT: Final = 34000  # minor units
CURRENCY: Final = "USD"
# The shop frames the hosted page (same origin) and is framed by nobody.
_POLICY: Final = content_security_policy("'none'", frame_src="'self'")

router = APIRouter(include_in_schema=False)


def _sandbox_only(services: Services) -> None:
    if not services.settings.sandbox:
        raise HTTPException(404)  # exactly what any unknown path answers


@router.get("/demo")
async def demo(services: Svc) -> Response:
    """A partner's shop in miniature: "Apply" creates a session and starts the web SDK."""
    _sandbox_only(services)
    price = f"${AMOUNT / 100:,.2f}"
    html = render("demo.html", product=PRODUCT_NAME, price=price, sdk_url=SDK_PATH)
    return html_response(html, _POLICY)


class DemoSessionRequest(pydantic.BaseModel):
    """What a tester may choose on the demo page (the sandbox decides by last name)."""

    model_config = pydantic.ConfigDict(extra="ignore")

    last_name: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    partner_customer_id: str | None = pydantic.Field(default=None, min_length=1, max_length=255)
    preferred_language: Literal["en", "es"] | None = None


def _demo_phone() -> str:
    """A random valid US number, so demo customers never share an application by phone."""
    while True:
        exchange = secrets.choice(range(200, 1000))
        candidate = f"+1415{exchange}{secrets.randbelow(10_000):04d}"
        if exchange % 100 != 11 and phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


@router.post("/demo/session")
async def demo_session(request: Request, services: Svc) -> Response:
    """Create a customer session for the sandbox partner, as a partner's server would."""
    _sandbox_only(services)
    # JSON only: a cross-site form cannot send it without a CORS preflight, which fails.
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise InvalidRequest("content-type: must be application/json")
    body = parse_json(DemoSessionRequest, await request.body() or b"{}")
    partner = await partners.sandbox_partner(services.database.repositories, clock=services.clock)
    history: dict[str, Any] = {
        "first_name": "Alex",
        "last_name": body.last_name or "approve",
        "email": "alex@example.com",
        "phone": _demo_phone(),
        "address": {
            "street_line1": "1 Market St",
            "city": "San Francisco",
            "state": "CA",
            "postal_code": "94105",
            "country": "USA",
        },
    }
    if body.preferred_language:
        history["preferred_language"] = body.preferred_language
    issued = await customer_sessions.create_customer_session(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        principal=Principal(
            api_key_id="", partner_id=partner.id, merchant_keys=partner.merchant_keys
        ),
        merchant_key=partner.merchant_keys[0] if partner.merchant_keys else None,
        ttl_seconds=services.settings.session_ttl_seconds,
        partner_customer_id=body.partner_customer_id or f"DEMO-{secrets.token_hex(4).upper()}",
        transaction_amount=AMOUNT,
        transaction_currency=CURRENCY,
        customer_history=history,
        source="demo_shop",
    )
    payload = {
        "id": issued.id,
        "client_secret": issued.client_secret,
        "expires_at": rfc3339_ms(issued.expires_at),
    }
    return Response(
        json.dumps(payload), media_type="application/json", headers={"Cache-Control": "no-store"}
    )
