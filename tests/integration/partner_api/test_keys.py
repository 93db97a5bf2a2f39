"""POST and DELETE /v2/keys: key rotation by the partner itself."""

from __future__ import annotations

import asyncio
import re

from conftest import DatabaseInspector
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.partners import MAX_ACTIVE_API_KEYS
from partner_api.conftest import Caller, other_app, random_id

API_KEY_FORMAT = re.compile(r"isk_test_[A-Za-z0-9_-]{43}")


def not_found(key_id: str) -> dict[str, str]:
    return {
        "type": "KEY_NOT_FOUND_ERROR",
        "message": f"Key not found for provided ID: {key_id}",
        "param": "id",
    }


async def create_key(caller: Caller) -> dict[str, str]:
    response = await caller.post("/v2/keys")
    assert response.status_code == 200, response.text
    created: dict[str, str] = response.json()
    return created


async def works(caller: Caller, api_key: str) -> bool:
    response = await caller.harness.client.get("/v2/customers", auth=(api_key, ""))
    assert response.status_code in (200, 401)
    return response.status_code == 200


async def test_created_key_is_shown_once_and_works(
    caller: Caller, inspector: DatabaseInspector
) -> None:
    response = await caller.post("/v2/keys")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert set(created) == {"id", "api_key", "partner_id", "created_at", "display_prefix"}
    assert API_KEY_FORMAT.fullmatch(created["api_key"])
    assert created["api_key"].startswith(created["display_prefix"])
    assert created["partner_id"] == caller.partner_id
    assert await works(caller, created["api_key"])
    assert inspector.count("api_keys", caller.partner_id) == 2
    # The new key acts for the same partner: it sees the same customers.
    customer_id = await caller.new_customer()
    seen = await caller.harness.client.get(
        f"/v2/customers/{customer_id}", auth=(created["api_key"], "")
    )
    assert seen.status_code == 200


async def test_production_keys_are_live_keys(
    caller: Caller, settings: Settings, clock: ManualClock
) -> None:
    async with other_app(settings, clock, env="production") as client:
        response = await client.post("/v2/keys", auth=caller.auth)
    assert response.status_code == 200
    assert response.json()["api_key"].startswith("isk_live_")


async def test_idempotency_key_on_create_is_refused(caller: Caller) -> None:
    response = await caller.post("/v2/keys", headers={"Idempotency-Key": "k1"})
    assert response.status_code == 400
    assert response.json()["details"][0].startswith("idempotency-key: not accepted here")


async def test_deleted_never_used_key_stops_working_at_once(caller: Caller) -> None:
    created = await create_key(caller)
    response = await caller.delete("/v2/keys", {"id": created["id"]})
    assert response.status_code == 200
    body = response.json()
    assert body.pop("revoked_at").endswith("Z")
    assert body == {
        "id": created["id"],
        "deleted": True,
        "display_prefix": created["display_prefix"],
    }
    assert not await works(caller, created["api_key"])


async def test_key_may_delete_itself_and_stops_within_a_second(caller: Caller) -> None:
    spare = await create_key(caller)
    assert await works(caller, caller.api_key)  # the calling key is now in the 1 s auth cache
    own_id = await key_id_of(caller, caller.api_key)
    response = await caller.delete("/v2/keys", {"id": own_id})
    assert response.status_code == 200
    await asyncio.sleep(1.05)
    assert not await works(caller, caller.api_key)
    assert await works(caller, spare["api_key"])


async def key_id_of(caller: Caller, api_key: str) -> str:
    """The id of one of the partner's active keys (its display prefix is unique among them)."""
    repos = caller.harness.services.database.repositories
    keys = await repos.list_api_keys(caller.partner_id)
    prefixes = {k.id: k.display_prefix for k in keys if k.revoked_at is None}
    [key_id] = [i for i, prefix in prefixes.items() if api_key.startswith(prefix)]
    return key_id


async def test_last_active_key_cannot_be_deleted(caller: Caller) -> None:
    own_id = await key_id_of(caller, caller.api_key)
    response = await caller.delete("/v2/keys", {"id": own_id})
    assert response.status_code == 409
    assert response.json() == {
        "type": "KEY_CONFLICT_ERROR",
        "message": "this is the partner's last active key; create another first",
    }
    await asyncio.sleep(1.05)  # past the auth cache: the refusal really changed nothing
    assert await works(caller, caller.api_key)


async def test_another_partners_key_is_the_same_404_as_a_missing_one(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await create_key(intruder)
    missing = random_id()
    stolen = await caller.delete("/v2/keys", {"id": theirs["id"]})
    absent = await caller.delete("/v2/keys", {"id": missing})
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == not_found(theirs["id"])
    assert absent.json() == not_found(missing)
    assert await works(intruder, theirs["api_key"])


async def test_deleted_key_deleted_again_is_not_found(caller: Caller) -> None:
    created = await create_key(caller)
    assert (await caller.delete("/v2/keys", {"id": created["id"]})).status_code == 200
    again = await caller.delete("/v2/keys", {"id": created["id"]})
    assert again.status_code == 404
    assert again.json() == not_found(created["id"])


async def test_malformed_or_missing_key_id_is_refused(caller: Caller) -> None:
    assert (await caller.delete("/v2/keys", {"id": "nope"})).json() == not_found("nope")
    missing = await caller.delete("/v2/keys", {})
    assert missing.status_code == 400
    assert missing.json()["details"] == ["id: is required"]
    too_long = await caller.delete("/v2/keys", {"id": "x" * 256})
    assert too_long.json()["details"] == ["id: must be at most 255 characters"]


async def test_key_limit_is_enforced_and_deleting_one_frees_a_place(caller: Caller) -> None:
    created = [await create_key(caller) for _ in range(MAX_ACTIVE_API_KEYS - 1)]
    response = await caller.post("/v2/keys")
    assert response.status_code == 409
    assert response.json()["type"] == "KEY_CONFLICT_ERROR"
    await caller.delete("/v2/keys", {"id": created[0]["id"]})
    assert (await caller.post("/v2/keys")).status_code == 200


async def test_concurrent_deletes_never_leave_a_partner_without_a_key(caller: Caller) -> None:
    spare = await create_key(caller)
    own_id = await key_id_of(caller, caller.api_key)
    results = await asyncio.gather(
        caller.delete("/v2/keys", {"id": own_id}),
        caller.delete("/v2/keys", {"id": spare["id"]}),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    keys = await caller.harness.services.database.repositories.list_api_keys(caller.partner_id)
    assert sum(k.revoked_at is None for k in keys) == 1
