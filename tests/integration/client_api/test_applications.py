"""Applying for a card or a loan: every sandbox decision, prefill, resume, and accepting offers."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from client_api.flow import (
    ADDRESS,
    CARD,
    LOAN,
    PHONE,
    applicant,
    apply,
    bearer,
    client_token,
    update_profile,
    verify_phone,
)
from conftest import DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock

CARD_OFFER = {
    "credit_limit": 500_000,
    "amount": None,
    "currency": "USD",
    "apr": "24.99",
    "term_months": None,
}
LOAN_OFFER = {
    "credit_limit": None,
    "amount": 1_000_000,
    "currency": "USD",
    "apr": "9.99",
    "term_months": 24,
}
DECISIONS = [
    ("approve", "CARD", "APPROVED", CARD_OFFER),
    ("approve", "LOAN", "APPROVED", LOAN_OFFER),
    ("review", "CARD", "PENDING_REVIEW", None),
    ("review", "LOAN", "PENDING_REVIEW", None),
    ("frozen", "CARD", "PENDING_REVIEW", None),
    ("frozen", "LOAN", "PENDING_REVIEW", None),
    ("Doe", "CARD", "REJECTED", None),
    ("Doe", "LOAN", "REJECTED", None),
    ("Approve", "CARD", "REJECTED", None),  # case-sensitive
]


async def accept(h: Harness, token: str, application_id: str) -> Any:
    return await h.client.post(
        f"/v2/client/applications/{application_id}/accept", headers=bearer(token)
    )


@pytest.mark.parametrize(
    ("last_name", "kind", "status", "offer"), DECISIONS, ids=[f"{d[0]}-{d[1]}" for d in DECISIONS]
)
async def test_sandbox_last_name_decides(
    harness: Harness, last_name: str, kind: str, status: str, offer: dict[str, Any] | None
) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key, last_name=last_name)
    response = await apply(harness, token, CARD if kind == "CARD" else LOAN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "type",
        "status",
        "offer",
        "payment_method_id",
        "created_at",
        "updated_at",
    }
    assert (body["type"], body["status"], body["offer"]) == (kind, status, offer)
    assert body["payment_method_id"] is None
    current = await harness.client.get("/v2/client/applications/current", headers=bearer(token))
    assert current.json() == body


async def test_accepting_a_card_offer_creates_the_card_and_opens_the_program(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner(merchant_keys=["acme-card"])
    token = await applicant(harness, key)
    application = (await apply(harness, token, CARD)).json()
    response = await accept(harness, token, application["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    card = body["payment_method"]
    assert body["application"]["status"] == "OFFER_ACCEPTED"
    assert body["application"]["payment_method_id"] == card["id"]
    assert card["type"] == "CARD"
    assert card["status"] == "ACTIVE"
    assert card["loan"] is None
    assert set(card["card"]) == {"last4", "network", "card_type", "card_design_id"}
    assert len(card["card"]["last4"]) == 4
    assert card["card"]["last4"].isdigit()
    assert (card["card"]["network"], card["card"]["card_type"]) == ("VISA", "VIRTUAL")
    statuses = inspector.scalar("SELECT statuses FROM customers WHERE id = ?", card["customer_id"])
    assert json.loads(statuses) == {"acme-card": "OPEN"}
    listed = (await harness.client.get("/v2/client/payment_methods", headers=bearer(token))).json()
    assert listed == {"data": [card]}
    session = (await harness.client.get("/v2/client/session", headers=bearer(token))).json()
    assert session["application"]["status"] == "OFFER_ACCEPTED"


async def test_accepting_a_loan_offer_creates_the_loan(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key)
    application = (await apply(harness, token, LOAN)).json()
    loan = (await accept(harness, token, application["id"])).json()["payment_method"]
    assert loan["type"] == "LOAN"
    assert loan["card"] is None
    assert loan["loan"] == {
        "amount": 1_000_000,
        "currency": "USD",
        "remaining_balance": 1_000_000,
        "term_months": 24,
        "apr": "9.99",
        "loan_status": "ACTIVE",
    }
    statuses = inspector.scalar("SELECT statuses FROM customers WHERE id = ?", loan["customer_id"])
    assert json.loads(statuses) == {"default": "OPEN"}


async def test_accepting_twice_is_409_and_creates_one_payment_method(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    token = await applicant(harness, key)
    application = (await apply(harness, token, CARD)).json()
    assert (await accept(harness, token, application["id"])).status_code == 200
    again = await accept(harness, token, application["id"])
    assert again.status_code == 409
    assert again.json() == {
        "type": "INVALID_APPLICATION_STATE_ERROR",
        "message": f"Application {application['id']} is OFFER_ACCEPTED; "
        "only an APPROVED offer can be accepted",
    }
    assert inspector.count("payment_methods", partner_id) == 1


@pytest.mark.parametrize("last_name", ["review", "Doe"])
async def test_accepting_an_application_without_an_offer_is_409(
    harness: Harness, inspector: DatabaseInspector, last_name: str
) -> None:
    partner_id, key = await harness.new_partner()
    token = await applicant(harness, key, last_name=last_name)
    application = (await apply(harness, token, CARD)).json()
    response = await accept(harness, token, application["id"])
    assert response.status_code == 409
    assert response.json()["type"] == "INVALID_APPLICATION_STATE_ERROR"
    assert inspector.count("payment_methods", partner_id) == 0


async def test_accepting_an_unknown_or_malformed_id_is_404(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key)
    for application_id in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        response = await accept(harness, token, application_id)
        assert response.status_code == 404
        assert response.json()["type"] == "APPLICATION_NOT_FOUND_ERROR"


async def test_no_application_yet_is_404(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    response = await harness.client.get("/v2/client/applications/current", headers=bearer(token))
    assert response.status_code == 404
    assert response.json() == {
        "type": "APPLICATION_NOT_FOUND_ERROR",
        "message": "No application found for this customer",
        "param": "application_id",
    }


async def test_unverified_phone_cannot_apply(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    await update_profile(
        harness,
        token,
        {"phone": PHONE, "first_name": "A", "last_name": "approve", "email": "a@example.com"},
    )
    response = await apply(harness, token, CARD)
    assert response.status_code == 400
    assert response.json()["details"] == ["phone: must be verified"]


async def test_a_phone_other_than_the_verified_one_cannot_apply(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key)
    response = await apply(harness, token, {**CARD, "phone": "+14155550123"})
    assert response.status_code == 400
    assert response.json()["details"] == ["phone: must be verified"]


async def test_every_invalid_application_field_is_listed(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key)
    response = await apply(
        harness,
        token,
        {
            "type": "LOAN",
            "ssn4": "12a4",
            "housing_type": "CASTLE",
            "housing_cost": -1,
            "income_type": "EMPLOYED",
            "email": "nope",
        },
    )
    assert response.status_code == 400
    details = response.json()["details"]
    assert "ssn4: has an invalid format" in details
    assert "housing_type: must be one of 'RENT', 'OWN' or 'OTHER'" in details
    assert "housing_cost: must be greater than or equal to 0" in details
    assert "income_amount: is required" in details
    assert "amount: is required for a LOAN" in details
    assert "term_months: is required for a LOAN" in details
    assert "email: must be a well-formed email address" in details


async def test_missing_contact_fields_are_400_listing_each(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    await update_profile(harness, token, {"phone": PHONE})
    await verify_phone(harness, token)
    response = await apply(harness, token, CARD)
    assert response.status_code == 400
    assert response.json()["details"] == [
        "first_name: is required",
        "last_name: is required",
        "email: is required",
        "date_of_birth: is required",
        "address: is required",
    ]


async def test_applicant_under_eighteen_is_400(harness: Harness, clock: ManualClock) -> None:
    from datetime import UTC, datetime

    _, key = await harness.new_partner()
    token = await applicant(harness, key)
    today = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC).date()
    young = {"year": today.year - 17, "month": 1, "day": 1}
    response = await apply(harness, token, {**CARD, "date_of_birth": young})
    assert response.status_code == 400
    assert response.json()["details"] == ["date_of_birth: the applicant must be at least 18"]


async def test_contact_fields_come_from_profile_then_history_and_history_is_attached(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    await client_token(harness, key, {"partner_customer_id": "C1"})  # an existing, empty profile
    history = {
        "first_name": "Hist",
        "last_name": "approve",
        "email": "history@example.com",
        "address": ADDRESS,
        "loyalty_tier": "GOLD",
    }
    token = await client_token(
        harness, key, {"partner_customer_id": "C1", "customer_history": history}
    )
    await update_profile(
        harness,
        token,
        {
            "phone": PHONE,
            "first_name": "Ada",
            "date_of_birth": {"year": 1980, "month": 1, "day": 2},
        },
    )
    await verify_phone(harness, token)
    response = await apply(harness, token, CARD)
    assert response.json()["status"] == "APPROVED"  # last name "approve" from the history
    application_id = response.json()["id"]
    stored = json.loads(
        inspector.scalar("SELECT input FROM applications WHERE id = ?", application_id)
    )
    assert stored["first_name"] == "Ada"  # the profile wins over the history
    assert stored["email"] == "history@example.com"
    assert stored["address"] == ADDRESS
    assert stored["date_of_birth"] == "1980-01-02"
    attached = json.loads(
        inspector.scalar("SELECT customer_history FROM applications WHERE id = ?", application_id)
    )
    assert attached == history


async def test_answers_sent_with_the_application_win_over_the_profile(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    token = await applicant(harness, key, last_name="Doe")
    response = await apply(harness, token, {**CARD, "last_name": "approve"})
    assert response.json()["status"] == "APPROVED"


async def test_unfinished_application_resumes_at_the_offer_for_the_same_phone(
    harness: Harness, inspector: DatabaseInspector, clock: ManualClock
) -> None:
    partner_id, key = await harness.new_partner()
    first = await applicant(harness, key, partner_customer_id="GUEST-1")
    offered = (await apply(harness, first, CARD)).json()
    assert offered["status"] == "APPROVED"
    clock.advance(seconds=5)
    # Later, another session (here for another customer record) with the same phone.
    second = await applicant(harness, key, partner_customer_id="ACCOUNT-9", last_name="Doe")
    resumed = await apply(harness, second, LOAN)
    assert resumed.status_code == 200
    body = resumed.json()
    assert body["id"] == offered["id"]
    assert (body["status"], body["type"], body["offer"]) == ("APPROVED", "CARD", CARD_OFFER)
    assert inspector.count("applications", partner_id) == 1
    accepted = await accept(harness, second, body["id"])
    assert accepted.status_code == 200
    assert (await accept(harness, first, body["id"])).status_code == 404  # it moved on


async def test_concurrent_first_applications_for_one_phone_make_one_application(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    """Regression: the resume check ran outside the recording transaction, so simultaneous
    applications for one phone (from different sessions) each created an application."""
    partner_id, key = await harness.new_partner()
    tokens = [await applicant(harness, key, partner_customer_id=f"C-{i}") for i in range(8)]
    responses: list[Any] = []

    async def one(token: str) -> None:
        responses.append(await apply(harness, token, CARD))

    async with anyio.create_task_group() as group:
        for token in tokens:
            group.start_soon(one, token)
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.json()["id"] for r in responses}) == 1
    assert inspector.count("applications", partner_id) == 1


async def test_finished_application_does_not_resume(harness: Harness) -> None:
    _, key = await harness.new_partner()
    first = await applicant(harness, key)
    offered = (await apply(harness, first, CARD)).json()
    await accept(harness, first, offered["id"])
    second = await applicant(harness, key)
    fresh = (await apply(harness, second, CARD)).json()
    assert fresh["id"] != offered["id"]
    assert fresh["status"] == "APPROVED"
