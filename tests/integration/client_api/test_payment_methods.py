"""The customer's cards: listed masked, locked and unlocked."""

from __future__ import annotations

from typing import Any

from client_api.flow import CARD, LOAN, applicant, apply, bearer
from conftest import Harness
from imprint_sessions.clock import ManualClock


async def new_card(h: Harness, key: str, kind: dict[str, Any] = CARD) -> tuple[str, dict[str, Any]]:
    token = await applicant(h, key)
    application = (await apply(h, token, kind)).json()
    response = await h.client.post(
        f"/v2/client/applications/{application['id']}/accept", headers=bearer(token)
    )
    payment_method: dict[str, Any] = response.json()["payment_method"]
    return token, payment_method


async def test_card_is_listed_with_only_its_last_four_digits(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token, card = await new_card(harness, key)
    listed = await harness.client.get("/v2/client/payment_methods", headers=bearer(token))
    (shown,) = listed.json()["data"]
    assert shown["card"] == card["card"]
    text = listed.text.lower()
    assert "cvv" not in text
    assert "number" not in text
    assert "pan" not in text


async def test_lock_then_unlock_a_card(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    token, card = await new_card(harness, key)
    clock.advance(seconds=1)
    locked = await harness.client.post(
        f"/v2/client/payment_methods/{card['id']}/lock", headers=bearer(token)
    )
    assert locked.status_code == 200
    assert locked.json()["status"] == "INACTIVE"
    assert locked.json()["updated_at"] > card["updated_at"]
    again = await harness.client.post(
        f"/v2/client/payment_methods/{card['id']}/lock", headers=bearer(token)
    )
    assert again.json() == locked.json()  # locking a locked card changes nothing
    unlocked = await harness.client.post(
        f"/v2/client/payment_methods/{card['id']}/unlock", headers=bearer(token)
    )
    assert unlocked.json()["status"] == "ACTIVE"
    listed = await harness.client.get("/v2/client/payment_methods", headers=bearer(token))
    assert listed.json()["data"][0]["status"] == "ACTIVE"


async def test_a_loan_cannot_be_locked(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token, loan = await new_card(harness, key, LOAN)
    response = await harness.client.post(
        f"/v2/client/payment_methods/{loan['id']}/lock", headers=bearer(token)
    )
    assert response.status_code == 409
    assert response.json()["type"] == "INVALID_PAYMENT_METHOD_STATE_ERROR"


async def test_unknown_or_malformed_payment_method_is_404(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token, _ = await new_card(harness, key)
    for payment_method_id in ("00000000-0000-4000-8000-000000000000", "nope"):
        response = await harness.client.post(
            f"/v2/client/payment_methods/{payment_method_id}/lock", headers=bearer(token)
        )
        assert response.status_code == 404
        assert response.json() == {
            "type": "PAYMENT_METHOD_NOT_FOUND_ERROR",
            "message": f"Payment method not found for provided ID: {payment_method_id}",
            "param": "payment_method_id",
        }
