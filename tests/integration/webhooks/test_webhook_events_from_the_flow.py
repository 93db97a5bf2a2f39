"""The events the product emits: the hosted flow's decisions and cards, and the sandbox's
``simulate_application`` trigger, which goes through the same domain code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from client_api.flow import CARD, applicant, apply, bearer

from conftest import TEST_SECRET_KEY, DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.events import EVENT_DATA_MODELS
from webhook_receiver import Receiver, receiving
from webhooks.conftest import Hooks


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    found = [json.loads(r.body) for r in receiver.received]
    return sorted(found, key=lambda b: b["object"])  # APPLICATION before PAYMENT_METHOD


async def assert_is_the_published_webhook(hooks: Hooks, body: dict[str, Any]) -> None:
    """``body`` is what the served spec's ``webhooks`` publish for its type: every key there,
    ``null`` only where the schema allows it, and it validates against the payload's model."""
    spec = (await hooks.h.client.get("/openapi.json")).json()
    operation = spec["webhooks"][body["object"]]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schemas = spec["components"]["schemas"]
    envelope = schemas[ref.rsplit("/", 1)[1]]
    assert set(body) == set(envelope["required"]) == {"data", "id", "object"}
    assert envelope["properties"]["object"]["const"] == body["object"]
    data_schema = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert set(body["data"]) == set(data_schema["required"]) == set(data_schema["properties"])
    for key, value in body["data"].items():
        if value is None:
            assert {"type": "null"} in data_schema["properties"][key].get("anyOf", []), key
    EVENT_DATA_MODELS[body["object"]].model_validate(body["data"])
    signature = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "X-IMPRINT-HMAC-SIGNATURE" in signature


async def customer(hooks: Hooks, partner_customer_id: str) -> str:
    response = await hooks.h.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": partner_customer_id},
        auth=hooks.auth,
    )
    assert response.status_code == 200, response.text
    found = await hooks.h.client.get(
        "/v2/customers", params={"partner_customer_id": partner_customer_id}, auth=hooks.auth
    )
    customer_id: str = found.json()["data"][0]["id"]
    return customer_id


async def test_an_accepted_offer_in_the_hosted_flow_sends_application_and_payment_method(
    hooks: Hooks,
) -> None:
    with receiving() as receiver:
        await hooks.register(receiver.url)
        token = await applicant(hooks.h, hooks.api_key, partner_customer_id="CUST_FLOW_1")
        applied = await apply(hooks.h, token, CARD)
        assert applied.json()["status"] == "APPROVED"
        await hooks.worker().drain()
        assert receiver.received == []  # an open offer is not a terminal decision
        accepted = await hooks.h.client.post(
            f"/v2/client/applications/{applied.json()['id']}/accept", headers=bearer(token)
        )
        assert accepted.status_code == 200, accepted.text
        card = accepted.json()["payment_method"]
        twice = await hooks.h.client.post(
            f"/v2/client/applications/{applied.json()['id']}/accept", headers=bearer(token)
        )
        assert twice.status_code == 409  # a rejected request: no second event
        locked = await hooks.h.client.post(
            f"/v2/client/payment_methods/{card['id']}/lock", headers=bearer(token)
        )
        assert locked.status_code == 200, locked.text
        await hooks.worker().drain()
    application, created, changed = sorted(
        (json.loads(r.body) for r in receiver.received),
        key=lambda b: (b["object"], b["data"].get("previous_status") is not None),
    )
    assert application["object"] == "APPLICATION"
    assert application["data"]["status"] == "OFFER_ACCEPTED"
    assert application["data"]["partner_customer_id"] == "CUST_FLOW_1"
    assert created["data"]["payment_method_id"] == card["id"]
    assert created["data"]["new_status"] == "ACTIVE"
    assert created["data"]["card_type"] == "VIRTUAL"
    assert created["data"]["previous_status"] is None  # a creation: null, never left out
    for body in (application, created, changed):
        await assert_is_the_published_webhook(hooks, body)
    assert (changed["data"]["previous_status"], changed["data"]["new_status"]) == (
        "ACTIVE",
        "INACTIVE",
    )


async def test_a_rejection_in_the_hosted_flow_sends_one_application_event(hooks: Hooks) -> None:
    with receiving() as receiver:
        await hooks.register(receiver.url)
        token = await applicant(hooks.h, hooks.api_key, last_name="decline")
        applied = await apply(hooks.h, token, CARD)
        assert applied.json()["status"] == "REJECTED"
        await hooks.worker().drain()
    (event,) = bodies(receiver)
    assert event["object"] == "APPLICATION"
    assert event["data"]["status"] == "REJECTED"
    assert set(event["data"]) >= {"customer_id", "status", "created_at", "updated_at"}


async def test_simulate_offer_accepted_creates_a_card_and_sends_both_events(
    hooks: Hooks,
) -> None:
    customer_id = await customer(hooks, "CUST_SIM_1")
    await hooks.h.client.post(
        f"/v2/customers/{customer_id}", json={"metadata": {"tier": "gold"}}, auth=hooks.auth
    )
    with receiving() as receiver:
        await hooks.register(receiver.url)
        response = await hooks.h.client.post(
            "/v2/simulate_application",
            json={"partner_customer_id": "CUST_SIM_1", "status": "OFFER_ACCEPTED"},
            auth=hooks.auth,
        )
        assert response.status_code == 200, response.text
        simulated = response.json()
        assert simulated["status"] == "OFFER_ACCEPTED"
        assert simulated["customer_id"] == customer_id
        await hooks.worker().drain()
    application, payment_method = bodies(receiver)
    assert application["data"]["status"] == "OFFER_ACCEPTED"
    assert application["data"]["customer_id"] == customer_id
    assert application["data"]["partner_customer_id"] == "CUST_SIM_1"
    assert application["data"]["customer_metadata"] == {"tier": "gold"}
    assert payment_method["data"]["payment_method_id"] == simulated["payment_method_id"]
    cards = await hooks.h.client.get(
        f"/v2/customers/{customer_id}/payment_methods", auth=hooks.auth
    )
    assert [c["id"] for c in cards.json()["data"]] == [simulated["payment_method_id"]]


async def test_simulate_rejected_by_customer_id_sends_one_application_event(
    hooks: Hooks,
) -> None:
    customer_id = await customer(hooks, "CUST_SIM_2")
    with receiving() as receiver:
        await hooks.register(receiver.url)
        response = await hooks.h.client.post(
            "/v2/simulate_application",
            json={"customer_id": customer_id, "status": "REJECTED"},
            auth=hooks.auth,
        )
        assert response.status_code == 200, response.text
        assert "payment_method_id" not in response.json()
        await hooks.worker().drain()
    (event,) = bodies(receiver)
    assert (event["object"], event["data"]["status"]) == ("APPLICATION", "REJECTED")
    assert event["id"] == receiver.received[0].event_id


async def test_simulate_carries_the_merchant_key(harness: Harness) -> None:
    partner_id, api_key = await harness.new_partner(merchant_keys=["acme-card", "acme-plus"])
    hooks = Hooks(harness, partner_id, api_key)
    headers = {"x-imprint-merchant-key": "acme-plus"}
    await harness.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": "CUST_MK"},
        auth=hooks.auth,
        headers=headers,
    )
    with receiving() as receiver:
        await hooks.register(receiver.url)
        response = await harness.client.post(
            "/v2/simulate_application",
            json={"partner_customer_id": "CUST_MK", "status": "OFFER_ACCEPTED"},
            auth=hooks.auth,
            headers=headers,
        )
        assert response.status_code == 200, response.text
        await hooks.worker().drain()
        for worker in hooks.workers:
            await worker.aclose()
    assert {b["data"]["merchant_key"] for b in bodies(receiver)} == {"acme-plus"}


async def test_a_rejected_simulate_request_produces_no_event(
    hooks: Hooks, other_hooks: Hooks, inspector: DatabaseInspector
) -> None:
    theirs = await customer(other_hooks, "CUST_THEIRS")
    await customer(hooks, "CUST_MINE")
    for body, status in [
        ({"partner_customer_id": "CUST_MINE", "status": "APPROVED"}, 400),
        ({"status": "REJECTED"}, 400),
        ({"partner_customer_id": "CUST_NOBODY", "status": "REJECTED"}, 404),
        ({"customer_id": theirs, "status": "OFFER_ACCEPTED"}, 404),
        ({"customer_id": "not-an-id", "status": "OFFER_ACCEPTED"}, 404),
    ]:
        response = await hooks.h.client.post("/v2/simulate_application", json=body, auth=hooks.auth)
        assert response.status_code == status, (body, response.text)
    assert inspector.count("webhook_events", hooks.partner_id) == 0
    assert inspector.count("applications", hooks.partner_id) == 0
    assert inspector.count("webhook_events", other_hooks.partner_id) == 0


async def test_simulate_is_403_outside_the_sandbox(
    tmp_path: Path, database_url: str, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    settings = Settings(
        env="production",
        data_dir=tmp_path / "production",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        database_url=database_url,
        log_level="DEBUG",
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            production = Harness(app=app, client=client, services=app.state.services)
            partner_id, api_key = await production.new_partner()
            response = await client.post(
                "/v2/simulate_application",
                json={"partner_customer_id": "CUST_X", "status": "REJECTED"},
                auth=(api_key, ""),
            )
    assert response.status_code == 403
    body = response.json()
    assert body["details"] == ["simulate_application: is only available in the sandbox"]
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert inspector.count("webhook_events", partner_id) == 0


async def test_simulate_with_an_idempotency_key_decides_once(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    await customer(hooks, "CUST_SIM_ONCE")
    with receiving() as receiver:
        await hooks.register(receiver.url)
        responses = [
            await hooks.h.client.post(
                "/v2/simulate_application",
                json={"partner_customer_id": "CUST_SIM_ONCE", "status": "OFFER_ACCEPTED"},
                auth=hooks.auth,
                headers={"Idempotency-Key": "simulate-once"},
            )
            for _ in range(2)
        ]
        await hooks.worker().drain()
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[1].json() == responses[0].json()
    assert inspector.count("applications", hooks.partner_id) == 1
    assert len(receiver.received) == 2  # APPLICATION and PAYMENT_METHOD, once each
