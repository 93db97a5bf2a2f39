"""Throwaway sandboxes, on SQLite and PostgreSQL: one call makes a partner with its own key; a
reset empties it; a delete ends it; several at once never see each other's data."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings
from imprint_sessions.domain.sandboxes import MAX_LIVE_SANDBOXES
from imprint_sessions.storage.tables import metadata

SANDBOXES = "/v2/test_helpers/sandboxes"
NOWHERE = "00000000-0000-4000-8000-000000000000"
# Every table a partner's data lives in (the wipe is derived from the schema; so is this check),
# but its keys and its audit trail, which is append-only and outlives what it records.
KEPT = {"api_keys", "audit_events"}
OWNED = [t.name for t in metadata.sorted_tables if "partner_id" in t.c and t.name not in KEPT]


@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """A database of its own: these tests leave webhook deliveries behind, which a webhook
    test's worker, draining the shared PostgreSQL database, would otherwise pick up."""
    return isolated_database_url


async def create(h: Harness, key: str, **body: Any) -> httpx.Response:
    response = await h.client.post(SANDBOXES, json=body or None, auth=(key, ""))
    if response.status_code == 200:
        _REGISTRY.remember(response.json()["api_key"])
    return response


async def fill(h: Harness, key: str, tag: str) -> dict[str, str]:
    """A customer with a session, an accepted application (a card, two events) and a webhook
    endpoint with deliveries: what a test suite leaves behind."""
    auth = (key, "")
    endpoint = await h.client.post(
        "/v2/webhook_endpoints", json={"url": f"http://localhost:9/{tag}"}, auth=auth
    )
    assert endpoint.status_code == 200, endpoint.text
    _REGISTRY.remember(endpoint.json()["secret"])
    session = await h.client.post(
        "/v2/customer_sessions", json={"partner_customer_id": f"CUST_{tag}"}, auth=auth
    )
    assert session.status_code == 200, session.text
    simulated = await h.client.post(
        "/v2/simulate_application",
        json={"partner_customer_id": f"CUST_{tag}", "status": "OFFER_ACCEPTED"},
        auth=auth,
    )
    assert simulated.status_code == 200, simulated.text
    return {"customer_id": simulated.json()["customer_id"], "endpoint_id": endpoint.json()["id"]}


async def test_a_sandbox_is_a_partner_of_its_own_with_a_working_key(harness: Harness) -> None:
    parent_id, parent_key = await harness.new_partner()
    response = await create(harness, parent_key, name="ci-build-4812")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    sandbox = response.json()
    assert sandbox["name"] == "ci-build-4812"
    assert sandbox["parent_id"] == parent_id
    assert sandbox["api_key"].startswith("isk_test_")
    assert sandbox["id"] != parent_id
    session = await harness.client.post(
        "/v2/customer_sessions", json={}, auth=(sandbox["api_key"], "")
    )
    assert session.status_code == 200, session.text
    listed = await harness.client.get(SANDBOXES, auth=(parent_key, ""))
    assert listed.json() == {
        "data": [{k: v for k, v in sandbox.items() if k != "api_key"}],
        "has_more": False,
        "total": 1,
    }


async def test_a_sandbox_without_a_name_is_named_for_what_it_is(harness: Harness) -> None:
    _, key = await harness.new_partner()
    assert (await create(harness, key)).json()["name"] == "Throwaway sandbox"


async def test_sandboxes_running_at_once_never_see_each_others_data(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, parent_key = await harness.new_partner()
    made = [(await create(harness, parent_key, name=f"job-{n}")).json() for n in range(4)]
    filled = await asyncio.gather(
        *(fill(harness, sandbox["api_key"], f"job{n}") for n, sandbox in enumerate(made))
    )
    for sandbox, own in zip(made, filled, strict=True):
        auth = (sandbox["api_key"], "")
        customers = (await harness.client.get("/v2/customers", auth=auth)).json()["data"]
        assert [c["id"] for c in customers] == [own["customer_id"]]
        endpoints = (await harness.client.get("/v2/webhook_endpoints", auth=auth)).json()
        assert [e["id"] for e in endpoints["data"]] == [own["endpoint_id"]]
        events = (await harness.client.get("/v2/webhook_events", auth=auth)).json()["data"]
        assert {e["data"]["customer_id"] for e in events} == {own["customer_id"]}
        for event in events:
            deliveries = await harness.client.get(
                f"/v2/webhook_events/{event['id']}/deliveries", auth=auth
            )
            assert {d["endpoint_id"] for d in deliveries.json()["data"]} == {own["endpoint_id"]}
        for other, theirs in zip(made, filled, strict=True):
            if other is not sandbox:
                found = await harness.client.get(
                    f"/v2/customers/{theirs['customer_id']}", auth=auth
                )
                assert found.status_code == 404
        sessions = await harness.client.get(
            f"/v2/customers/{own['customer_id']}/customer_sessions", auth=auth
        )
        # Its own session and the one the simulated application opened: nobody else's.
        assert sessions.json()["total"] == inspector.count("customer_sessions", sandbox["id"]) == 2


async def test_a_reset_empties_the_sandbox_and_keeps_its_key(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, parent_key = await harness.new_partner()
    sandbox = (await create(harness, parent_key)).json()
    await fill(harness, sandbox["api_key"], "reset")
    assert sum(inspector.count(table, sandbox["id"]) for table in OWNED) > 0
    reset = await harness.client.post(f"{SANDBOXES}/{sandbox['id']}/reset", auth=(parent_key, ""))
    assert reset.status_code == 200, reset.text
    assert reset.json()["id"] == sandbox["id"]
    assert {table: inspector.count(table, sandbox["id"]) for table in OWNED} == dict.fromkeys(
        OWNED, 0
    )
    attempts = inspector.scalar("SELECT count(*) FROM webhook_attempts")
    codes = inspector.scalar("SELECT count(*) FROM otp_challenges")
    assert (attempts, codes) == (0, 0)
    auth = (sandbox["api_key"], "")
    assert (await harness.client.get("/v2/customers", auth=auth)).json()["total"] == 0
    again = await fill(harness, sandbox["api_key"], "reset")  # the same ids are free again
    assert again["customer_id"]


async def test_a_reset_leaves_the_parent_and_other_sandboxes_alone(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    parent_id, parent_key = await harness.new_partner()
    await fill(harness, parent_key, "parent")
    one, two = [(await create(harness, parent_key)).json() for _ in range(2)]
    await fill(harness, one["api_key"], "one")
    await fill(harness, two["api_key"], "two")
    before = {table: inspector.count(table, two["id"]) for table in OWNED}
    parent_before = {table: inspector.count(table, parent_id) for table in OWNED}
    reset = await harness.client.post(f"{SANDBOXES}/{one['id']}/reset", auth=(one["api_key"], ""))
    assert reset.status_code == 200, reset.text  # a sandbox may reset itself
    assert {table: inspector.count(table, two["id"]) for table in OWNED} == before
    assert {table: inspector.count(table, parent_id) for table in OWNED} == parent_before


async def test_a_deleted_sandbox_is_gone_and_its_key_stops_working(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, parent_key = await harness.new_partner()
    sandbox = (await create(harness, parent_key)).json()
    await fill(harness, sandbox["api_key"], "delete")
    auth = (sandbox["api_key"], "")
    assert (await harness.client.get("/v2/customers", auth=auth)).status_code == 200  # cached
    deleted = await harness.client.delete(f"{SANDBOXES}/{sandbox['id']}", auth=(parent_key, ""))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": sandbox["id"], "deleted": True}
    assert (await harness.client.get("/v2/customers", auth=auth)).status_code == 401
    assert sum(inspector.count(table, sandbox["id"]) for table in OWNED) == 0
    assert inspector.count("audit_events", sandbox["id"]) > 0  # the trail stays
    assert (await harness.client.get(SANDBOXES, auth=(parent_key, ""))).json()["total"] == 0
    again = await harness.client.delete(f"{SANDBOXES}/{sandbox['id']}", auth=(parent_key, ""))
    assert again.status_code == 404
    assert again.json()["type"] == "SANDBOX_NOT_FOUND_ERROR"


@pytest.mark.parametrize("action", ["reset", "delete"])
async def test_another_partners_sandbox_does_not_exist_for_you(
    harness: Harness, action: str, inspector: DatabaseInspector
) -> None:
    _, parent_key = await harness.new_partner()
    _, stranger_key = await harness.new_partner()
    sandbox = (await create(harness, parent_key)).json()
    await fill(harness, sandbox["api_key"], "theirs")
    sibling = (await create(harness, parent_key)).json()
    for key in (stranger_key, sibling["api_key"]):
        if action == "reset":
            response = await harness.client.post(
                f"{SANDBOXES}/{sandbox['id']}/reset", auth=(key, "")
            )
        else:
            response = await harness.client.delete(f"{SANDBOXES}/{sandbox['id']}", auth=(key, ""))
        assert response.status_code == 404, response.text
        assert response.json()["param"] == "sandbox_id"
    assert inspector.count("customers", sandbox["id"]) == 1


@pytest.mark.parametrize("sandbox_id", [NOWHERE, "not-an-id"])
async def test_an_unknown_sandbox_is_a_404(harness: Harness, sandbox_id: str) -> None:
    _, key = await harness.new_partner()
    response = await harness.client.post(f"{SANDBOXES}/{sandbox_id}/reset", auth=(key, ""))
    assert response.status_code == 404
    assert response.json()["type"] == "SANDBOX_NOT_FOUND_ERROR"


async def test_a_partner_of_its_own_is_not_a_sandbox_to_reset(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    parent_id, parent_key = await harness.new_partner()
    await fill(harness, parent_key, "own")
    response = await harness.client.post(f"{SANDBOXES}/{parent_id}/reset", auth=(parent_key, ""))
    assert response.status_code == 404
    assert inspector.count("customers", parent_id) == 1


async def test_a_sandbox_cannot_make_sandboxes(harness: Harness) -> None:
    _, parent_key = await harness.new_partner()
    sandbox = (await create(harness, parent_key)).json()
    response = await create(harness, sandbox["api_key"])
    assert response.status_code == 403, response.text
    assert response.json()["details"] == ["sandboxes: a throwaway sandbox cannot create sandboxes"]


async def test_a_partner_has_at_most_so_many_sandboxes(harness: Harness) -> None:
    _, key = await harness.new_partner()
    for _ in range(MAX_LIVE_SANDBOXES):
        assert (await create(harness, key)).status_code == 200
    refused = await create(harness, key)
    assert refused.status_code == 409
    assert refused.json()["type"] == "SANDBOX_LIMIT_ERROR"
    first = (await harness.client.get(SANDBOXES, auth=(key, ""))).json()["data"][0]
    assert (await harness.client.delete(f"{SANDBOXES}/{first['id']}", auth=(key, ""))).is_success
    assert (await create(harness, key)).status_code == 200  # a deleted one no longer counts


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"name": ""}, "name: must not be empty"),
        ({"name": "x" * 201}, "name: must be at most 200 characters"),
        ({"name": None}, "name: must not be null (leave the field out instead)"),
    ],
)
async def test_a_bad_name_is_a_400_and_makes_nothing(
    harness: Harness, body: dict[str, Any], detail: str
) -> None:
    _, key = await harness.new_partner()
    response = await create(harness, key, **body)
    assert response.status_code == 400
    assert response.json()["details"] == [detail]
    assert (await harness.client.get(SANDBOXES, auth=(key, ""))).json()["total"] == 0


async def test_an_idempotency_key_is_refused_because_the_key_is_shown_once(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    response = await harness.client.post(
        SANDBOXES, auth=(key, ""), headers={"Idempotency-Key": "k1"}
    )
    assert response.status_code == 400
    assert response.json()["details"][0].startswith("idempotency-key: not accepted here")


async def test_production_has_no_test_helpers(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})
    app = create_app(production)
    assert not [path for path in app.openapi()["paths"] if "test_helpers" in path]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(SANDBOXES, auth=("isk_live_x", ""))
    assert response.status_code == 404
