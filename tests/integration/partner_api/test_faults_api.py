"""``/v2/test_helpers/faults``: declaring, listing and deleting test faults (sandbox only), every
problem of a declaration listed at once, each partner seeing only its own; and production, where
the routes do not exist and no fault applies even if one is stored."""

from __future__ import annotations

from typing import Any

import pytest

from imprint_sessions.clock import ManualClock, SandboxClock
from imprint_sessions.config import Settings
from imprint_sessions.domain import faults
from imprint_sessions.domain.faults import FaultDeclaration
from partner_api.conftest import Caller, other_app, random_id

FAULTS = "/v2/test_helpers/faults"


async def declare(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = await caller.post(FAULTS, body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_each_kind_is_declared_listed_oldest_first_and_deleted(caller: Caller) -> None:
    endpoint = await caller.post("/v2/webhook_endpoints", {"url": "http://127.0.0.1:9/hooks"})
    endpoint_id = endpoint.json()["id"]
    bodies: list[dict[str, Any]] = [
        {"kind": "error", "operation": "createSession", "status": 429},
        {"kind": "error", "operation": "getSession", "status": 500, "delay_ms": 10, "times": 3},
        {"kind": "delay", "operation": "listCustomers", "delay_ms": 300, "until_deleted": True},
        {"kind": "drop", "operation": "exchangeClientSecret"},
        {"kind": "webhook_failure", "endpoint_id": endpoint_id.lower(), "times": 4},
        {"kind": "hosted_outcome", "outcome": "ERROR:TIMEOUT_ERROR"},
    ]
    served = caller.harness.services.clock
    assert isinstance(served, SandboxClock)  # the sandbox's: it follows a sandbox's test clock
    clock = served.base
    assert isinstance(clock, ManualClock)
    created = []
    for body in bodies:
        created.append(await declare(caller, body))
        clock.advance(ms=1)
    assert created[0] == {
        "id": created[0]["id"],
        "kind": "error",
        "operation": "createSession",
        "status": 429,
        "retry_after": 1,  # the default a 429 and a 503 get
        "times": 1,
        "remaining": 1,
        "created_at": created[0]["created_at"],
    }
    assert created[1]["times"] == created[1]["remaining"] == 3
    assert "retry_after" not in created[1]  # a 500 has none
    assert "times" not in created[2]
    assert "remaining" not in created[2]
    assert created[4]["endpoint_id"] == endpoint_id  # as stored, whatever the spelling sent
    assert created[5]["outcome"] == "ERROR:TIMEOUT_ERROR"
    listed = (await caller.get(FAULTS)).json()
    assert listed == {"data": created, "has_more": False, "total": 6}
    deleted = await caller.delete(f"{FAULTS}/{created[3]['id'].lower()}")
    assert deleted.json() == {"id": created[3]["id"], "deleted": True}
    remaining = (await caller.get(FAULTS)).json()["data"]
    assert [f["id"] for f in remaining] == [f["id"] for f in created if f is not created[3]]
    again = await caller.delete(f"{FAULTS}/{created[3]['id']}")
    assert again.status_code == 404
    assert again.json()["type"] == "FAULT_NOT_FOUND_ERROR"


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, ["kind: is required"]),
        ({"kind": "explode"}, None),
        (
            {"kind": "error"},
            ["operation: required with kind error", "status: required with kind error"],
        ),
        (
            {"kind": "error", "operation": "createSession", "status": 500, "retry_after": 3},
            ["retry_after: only with status 429 or 503"],
        ),
        (
            {"kind": "delay", "operation": "getSession", "status": 503, "outcome": "IN_PROGRESS"},
            [
                "status: not taken by kind delay",
                "delay_ms: required with kind delay",
                "outcome: not taken by kind delay",
            ],
        ),
        (
            {"kind": "drop", "operation": "createSession", "times": 2, "until_deleted": True},
            ["times: not with until_deleted (it applies until you delete it)"],
        ),
        ({"kind": "webhook_failure"}, ["endpoint_id: required with kind webhook_failure"]),
        ({"kind": "hosted_outcome"}, ["outcome: required with kind hosted_outcome"]),
        ({"kind": "drop", "operation": "createFault"}, None),
        ({"kind": "hosted_outcome", "outcome": "ERROR:OOPS"}, None),
        ({"kind": "delay", "operation": "getSession", "delay_ms": 30_001}, None),
        ({"kind": "drop", "operation": "getSession", "times": 0}, None),
        ({"kind": "error", "operation": "getSession", "status": 404}, None),
        ({"kind": "drop", "operation": "getSession", "times": None}, None),
    ],
)
async def test_a_bad_declaration_is_a_400_listing_every_problem(
    caller: Caller, body: dict[str, Any], details: list[str] | None
) -> None:
    response = await caller.post(FAULTS, body)
    assert response.status_code == 400, response.text
    if details is not None:
        assert response.json()["details"] == details
    assert (await caller.get(FAULTS)).json()["total"] == 0


async def test_another_partners_faults_and_endpoints_are_not_found(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await declare(intruder, {"kind": "drop", "operation": "getSession"})
    assert (await caller.get(FAULTS)).json()["data"] == []
    deleted = await caller.delete(f"{FAULTS}/{theirs['id']}")
    assert deleted.status_code == 404
    assert (await intruder.get(FAULTS)).json()["total"] == 1
    endpoint = await intruder.post("/v2/webhook_endpoints", {"url": "http://127.0.0.1:9/hooks"})
    for endpoint_id in (endpoint.json()["id"], random_id(), "not-an-id"):
        response = await caller.post(
            FAULTS, {"kind": "webhook_failure", "endpoint_id": endpoint_id}
        )
        assert response.status_code == 404, response.text
        assert response.json()["type"] == "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR"
    assert (await caller.delete(f"{FAULTS}/not-an-id")).status_code == 404


async def test_at_most_a_hundred_faults_are_kept_per_partner(caller: Caller) -> None:
    repos = caller.harness.services.database.repositories
    for _ in range(faults.MAX_FAULTS_PER_PARTNER):
        await faults.declare_fault(
            repos,
            clock=caller.harness.services.clock,
            partner_id=caller.partner_id,
            declaration=FaultDeclaration(kind="drop", operation="getSession"),
        )
    refused = await caller.post(FAULTS, {"kind": "drop", "operation": "getSession"})
    assert refused.status_code == 400
    assert refused.json()["details"] == [
        "faults: at most 100 per partner, used-up ones included; delete some first"
    ]


async def test_an_idempotency_key_replays_the_declaration_instead_of_a_second_fault(
    caller: Caller,
) -> None:
    body = {"kind": "error", "operation": "getSession", "status": 503}
    key = {"Idempotency-Key": "declare-once"}
    first = await caller.post(FAULTS, body, headers=key)
    second = await caller.post(FAULTS, body, headers=key)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert (await caller.get(FAULTS)).json()["total"] == 1


async def test_in_production_the_helpers_are_404_and_no_fault_ever_applies(
    settings: Settings, clock: ManualClock, caller: Caller
) -> None:
    # Rows a sandbox left behind (or written straight to the database) change nothing there.
    await declare(
        caller,
        {"kind": "error", "operation": "listCustomers", "status": 503, "until_deleted": True},
    )
    session = await caller.new_session()
    await declare(
        caller,
        {"kind": "error", "operation": "exchangeClientSecret", "status": 503, "times": 3},
    )
    async with other_app(settings, clock, env="production") as production:
        for method, path in [
            ("POST", FAULTS),
            ("GET", FAULTS),
            ("DELETE", f"{FAULTS}/{random_id()}"),
            ("POST", "/v2/test_helpers/webhook_events"),
        ]:
            response = await production.request(method, path, auth=caller.auth, json={})
            assert response.status_code == 404, (path, response.text)
            assert response.json()["details"] == ["path: no such endpoint"]
        listed = await production.get("/v2/customers", auth=caller.auth)
        assert listed.status_code == 200
        headed = await production.get(
            "/v2/customers", auth=caller.auth, headers={"Imprint-Test-Fault": "status=500"}
        )
        assert headed.status_code == 200
        malformed = await production.get(
            "/v2/customers", auth=caller.auth, headers={"Imprint-Test-Fault": "nonsense"}
        )
        assert malformed.status_code == 200
        exchanged = await production.post(
            "/v2/client/exchange", json={"client_secret": session["client_secret"]}
        )
        assert exchanged.status_code == 200, exchanged.text
        spec = (await production.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if "test_helpers" in path]
    assert "Imprint-Test-Fault" not in str(spec)
    assert not [name for name in spec["components"]["schemas"] if "Fault" in name]
    # Nothing was used up.
    listed_faults = (await caller.get(FAULTS)).json()["data"]
    assert sorted((f["operation"], f.get("remaining")) for f in listed_faults) == [
        ("exchangeClientSecret", 3),
        ("listCustomers", None),
    ]
