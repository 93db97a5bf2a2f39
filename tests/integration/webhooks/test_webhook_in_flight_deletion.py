"""A delivery already claimed when its endpoint is deleted, on SQLite and PostgreSQL: the attempt
in flight may arrive, but it cannot bring the delivery back."""

from __future__ import annotations

import pytest

from imprint_sessions.storage.records import DeliveryOutcome
from webhooks.conftest import Hooks

URL = "http://localhost:9/hooks/delete-me"


@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """A database of its own: the claim here takes every due delivery it can see, and the
    shared one may hold an earlier test's."""
    return isolated_database_url


async def test_a_delivery_claimed_when_its_endpoint_is_deleted_cannot_be_recorded_delivered(
    hooks: Hooks,
) -> None:
    """An attempt already in flight may arrive, but it cannot bring the delivery back."""
    endpoint_id, _ = await hooks.register(URL)
    (event_id,) = await hooks.emit(1)
    repos = hooks.h.services.database.repositories
    now = hooks.h.services.clock.now_ms()
    (claimed,) = await repos.claim_webhook_deliveries(
        now=now, limit=10, lease_until=now + 60_000, lease_token="in-flight"
    )
    response = await hooks.h.client.delete(f"/v2/webhook_endpoints/{endpoint_id}", auth=hooks.auth)
    assert response.status_code == 200, response.text
    outcome = DeliveryOutcome(
        delivery_id=claimed.delivery.id,
        lease_token="in-flight",
        status="delivered",
        attempts=1,
        next_attempt_at=now,
        last_attempt_at=now,
        last_error=None,
        updated_at=now,
    )
    assert await repos.finish_webhook_delivery(outcome, None) is False
    (delivery,) = await hooks.deliveries(event_id)
    assert delivery["status"] == "DEAD"
    assert delivery["last_error"] == "endpoint deleted"
