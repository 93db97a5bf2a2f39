"""domain/payment_methods.py on a real database: card locks from every state, and concurrently."""

from __future__ import annotations

import asyncio

from client_api.flow import bearer, execute
from client_api.test_payment_methods import new_card

from conftest import DatabaseInspector, Harness


async def test_a_canceled_card_can_be_neither_locked_nor_unlocked(
    harness: Harness, database_url: str
) -> None:
    _, key = await harness.new_partner()
    token, card = await new_card(harness, key)
    execute(database_url, "UPDATE payment_methods SET status = 'CANCELED' WHERE id = ?", card["id"])
    for action in ("lock", "unlock"):
        response = await harness.client.post(
            f"/v2/client/payment_methods/{card['id']}/{action}", headers=bearer(token)
        )
        assert response.status_code == 409, response.text
        assert response.json()["type"] == "INVALID_PAYMENT_METHOD_STATE_ERROR"
        assert f"Payment method {card['id']} is CANCELED" in response.text


async def test_concurrent_locks_of_one_card_all_succeed_and_record_one_change(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    token, card = await new_card(harness, key)
    events_before = inspector.count("webhook_events", partner_id)
    responses = await asyncio.gather(
        *(
            harness.client.post(
                f"/v2/client/payment_methods/{card['id']}/lock", headers=bearer(token)
            )
            for _ in range(8)
        )
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert {r.json()["status"] for r in responses} == {"INACTIVE"}
    assert inspector.count("webhook_events", partner_id) == events_before + 1
