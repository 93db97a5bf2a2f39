"""GET /v2/customer_sessions/{session_id}: the caller's own session, with the same secret."""

from __future__ import annotations

import uuid

from conftest import Harness


async def test_get_returns_the_same_fields_and_secret(harness: Harness) -> None:
    _, key = await harness.new_partner()
    created = await harness.client.post(
        "/v2/customer_sessions",
        json={"metadata": {"store_number": "123"}, "source": "pos"},
        auth=(key, ""),
    )
    fetched = await harness.client.get(
        f"/v2/customer_sessions/{created.json()['id']}", auth=(key, "")
    )
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


async def test_lowercase_id_finds_the_session(harness: Harness) -> None:
    _, key = await harness.new_partner()
    created = (await harness.client.post("/v2/customer_sessions", json={}, auth=(key, ""))).json()
    fetched = await harness.client.get(
        f"/v2/customer_sessions/{created['id'].lower()}", auth=(key, "")
    )
    assert fetched.json()["id"] == created["id"]


async def test_other_partners_session_is_indistinguishable_from_missing(harness: Harness) -> None:
    _, owner_key = await harness.new_partner()
    _, intruder_key = await harness.new_partner()
    created = (
        await harness.client.post("/v2/customer_sessions", json={}, auth=(owner_key, ""))
    ).json()
    stolen = await harness.client.get(
        f"/v2/customer_sessions/{created['id']}", auth=(intruder_key, "")
    )
    missing_id = str(uuid.uuid4()).upper()
    missing = await harness.client.get(
        f"/v2/customer_sessions/{missing_id}", auth=(intruder_key, "")
    )
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == {
        "type": "SESSION_NOT_FOUND_ERROR",
        "message": f"Session not found for provided ID: {created['id']}",
        "param": "session_id",
    }
    assert missing.json()["message"] == f"Session not found for provided ID: {missing_id}"
    assert "client_secret" not in stolen.text


async def test_malformed_session_id_is_not_found(harness: Harness) -> None:
    _, key = await harness.new_partner()
    response = await harness.client.get("/v2/customer_sessions/zzz", auth=(key, ""))
    assert response.status_code == 404
    assert response.json()["type"] == "SESSION_NOT_FOUND_ERROR"
