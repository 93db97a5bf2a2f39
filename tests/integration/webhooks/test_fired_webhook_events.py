"""``POST /v2/test_helpers/webhook_events`` (``fireWebhookEvent``, sandbox only): an event of any
type for one of the caller's customers, through the outbox and the payload builders of real
events, so it arrives at a real loopback receiver signed both ways, exactly as real ones do."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from conftest import DatabaseInspector
from imprint_sessions.domain.events import ApplicationEventData, PaymentMethodEventData
from webhook_receiver import Received, receiving
from webhooks.conftest import Hooks, imprint_signature_ok, standard_signature_ok

FIRE = "/v2/test_helpers/webhook_events"


async def customer(hooks: Hooks, partner_customer_id: str, **session: Any) -> str:
    created = await hooks.h.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": partner_customer_id, **session},
        auth=hooks.auth,
    )
    assert created.status_code == 200, created.text
    found = await hooks.h.client.get(
        "/v2/customers", params={"partner_customer_id": partner_customer_id}, auth=hooks.auth
    )
    customer_id: str = found.json()["data"][0]["id"]
    return customer_id


async def fire(hooks: Hooks, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = await hooks.h.client.post(FIRE, json=body, auth=hooks.auth, **kwargs)
    assert response.status_code == 200, response.text
    fired: dict[str, Any] = response.json()
    return fired


def assert_signed_both_ways(secret: str, received: Received) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    assert standard_signature_ok(secret, received.headers, received.body)
    assert imprint_signature_ok(secret, received.headers["x-imprint-hmac-signature"], received.body)
    assert received.body == json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return payload


async def test_an_application_event_is_delivered_signed_both_ways_with_the_id_answered(
    hooks: Hooks,
) -> None:
    customer_id = await customer(hooks, "CUST_FIRED")
    await hooks.h.client.post(
        f"/v2/customers/{customer_id}", json={"metadata": {"tier": "gold"}}, auth=hooks.auth
    )
    with receiving() as receiver:
        _, secret = await hooks.register(receiver.url)
        fired = await fire(
            hooks,
            {"type": "APPLICATION", "partner_customer_id": "CUST_FIRED", "status": "REJECTED"},
        )
        await hooks.worker().drain()  # (with whatever other tests left due on the shared database)
    (received,) = receiver.received
    payload = assert_signed_both_ways(secret, received)
    assert received.event_id == fired["id"] == payload["id"]
    assert payload["object"] == fired["object"] == "APPLICATION"
    assert payload["data"] == fired["data"]
    assert set(payload["data"]) == set(ApplicationEventData.model_fields)
    assert payload["data"] | {"created_at": "", "updated_at": ""} == {
        "customer_id": customer_id,
        "partner_customer_id": "CUST_FIRED",
        "status": "REJECTED",
        "created_at": "",
        "updated_at": "",
        "merchant_key": None,
        "customer_metadata": {"tier": "gold"},
    }
    # Listed with the partner's real events, delivered like them.
    events = (await hooks.h.client.get("/v2/webhook_events", auth=hooks.auth)).json()["data"]
    assert [e["id"] for e in events] == [fired["id"]]
    (delivery,) = await hooks.deliveries(fired["id"])
    assert delivery["status"] == "DELIVERED"


async def test_a_payment_method_event_reports_the_statuses_asked_and_changes_nothing(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    customer_id = await customer(hooks, "CUST_CARD")
    simulated = await hooks.h.client.post(
        "/v2/simulate_application",
        json={"customer_id": customer_id, "status": "OFFER_ACCEPTED"},
        auth=hooks.auth,
    )
    payment_method_id = simulated.json()["payment_method_id"]
    with receiving() as receiver:
        _, secret = await hooks.register(receiver.url, ["PAYMENT_METHOD"])
        fired = await fire(
            hooks,
            {
                "type": "PAYMENT_METHOD",
                "customer_id": customer_id,
                "previous_status": "ACTIVE",
                "new_status": "CANCELED",
            },
        )
        await hooks.worker().drain()
    (received,) = [r for r in receiver.received if r.event_id == fired["id"]]
    payload = assert_signed_both_ways(secret, received)
    data = payload["data"]
    assert set(data) == set(PaymentMethodEventData.model_fields)
    assert (data["payment_method_id"], data["customer_id"]) == (payment_method_id, customer_id)
    assert (data["previous_status"], data["new_status"]) == ("ACTIVE", "CANCELED")
    assert (data["type"], data["card_type"]) == ("CARD", "VIRTUAL")
    # The card itself is as it was.
    stored = await hooks.h.client.get(f"/v2/payment_methods/{payment_method_id}", auth=hooks.auth)
    assert stored.json()["status"] == "ACTIVE"
    assert (
        inspector.scalar(
            "SELECT status FROM payment_methods WHERE partner_id = ?", hooks.partner_id
        )
        == "ACTIVE"
    )
    # Created (no previous status) for a payment method named by id.
    created = await fire(
        hooks,
        {
            "type": "PAYMENT_METHOD",
            "customer_id": customer_id,
            "payment_method_id": payment_method_id.lower(),
            "new_status": "ACTIVE",
        },
    )
    assert created["data"]["previous_status"] is None


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (
            {"type": "APPLICATION", "partner_customer_id": "CUST_X"},
            ["status: required with type APPLICATION"],
        ),
        (
            {"type": "PAYMENT_METHOD", "partner_customer_id": "CUST_X", "status": "REJECTED"},
            ["status: only with type APPLICATION", "new_status: required with type PAYMENT_METHOD"],
        ),
        (
            {"type": "APPLICATION", "status": "REJECTED", "new_status": "ACTIVE"},
            ["new_status: only with type PAYMENT_METHOD"],
        ),
        (
            {"type": "APPLICATION", "status": "REJECTED"},
            [
                "customer_id: one of customer_id or partner_customer_id is required",
                "partner_customer_id: one of customer_id or partner_customer_id is required",
            ],
        ),
        ({"type": "APPLICATION", "partner_customer_id": "CUST_X", "status": "APPROVED"}, None),
        ({"type": "LOCKED", "partner_customer_id": "CUST_X"}, None),
    ],
)
async def test_a_bad_request_is_a_400_and_fires_nothing(
    hooks: Hooks, body: dict[str, Any], details: list[str] | None
) -> None:
    await customer(hooks, "CUST_X")
    response = await hooks.h.client.post(FIRE, json=body, auth=hooks.auth)
    assert response.status_code == 400, response.text
    if details is not None:
        assert response.json()["details"] == details
    events = await hooks.h.client.get("/v2/webhook_events", auth=hooks.auth)
    assert events.json()["total"] == 0


async def test_another_partners_customer_or_payment_method_is_not_found(
    hooks: Hooks, other_hooks: Hooks
) -> None:
    theirs = await customer(other_hooks, "CUST_THEIRS")
    ours = await customer(hooks, "CUST_OURS")
    for body, kind in [
        ({"type": "APPLICATION", "customer_id": theirs, "status": "REJECTED"}, "CUSTOMER"),
        (
            {"type": "APPLICATION", "partner_customer_id": "CUST_THEIRS", "status": "REJECTED"},
            "CUSTOMER",
        ),
        ({"type": "PAYMENT_METHOD", "customer_id": ours, "new_status": "ACTIVE"}, "PAYMENT_METHOD"),
        (
            {
                "type": "PAYMENT_METHOD",
                "customer_id": ours,
                "payment_method_id": theirs,
                "new_status": "ACTIVE",
            },
            "PAYMENT_METHOD",
        ),
    ]:
        response = await hooks.h.client.post(FIRE, json=body, auth=hooks.auth)
        assert response.status_code == 404, response.text
        assert response.json()["type"] == f"{kind}_NOT_FOUND_ERROR"
    assert (await hooks.h.client.get("/v2/webhook_events", auth=hooks.auth)).json()["total"] == 0


async def test_the_merchant_key_header_names_the_product(hooks: Hooks) -> None:
    partner_id, api_key = await hooks.h.new_partner(merchant_keys=["acme-card", "acme-loan"])
    two = Hooks(hooks.h, partner_id, api_key)
    created = await hooks.h.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": "CUST_MK"},
        auth=two.auth,
        headers={"x-imprint-merchant-key": "acme-card"},
    )
    assert created.status_code == 200, created.text
    body = {"type": "APPLICATION", "partner_customer_id": "CUST_MK", "status": "OFFER_ACCEPTED"}
    for header, status in [({}, 400), ({"x-imprint-merchant-key": "not-ours"}, 403)]:
        refused = await hooks.h.client.post(FIRE, json=body, auth=two.auth, headers=header)
        assert refused.status_code == status, refused.text
    fired = await fire(two, body, headers={"x-imprint-merchant-key": "acme-loan"})
    assert fired["data"]["merchant_key"] == "acme-loan"
