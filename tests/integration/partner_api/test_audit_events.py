"""The audit trail, on SQLite and PostgreSQL: each action writes exactly one entry naming its
actor, request, client address and object; a failed action writes none; ``GET /v2/audit_events``
pages and filters a partner's own entries only; no entry ever holds a secret."""

from __future__ import annotations

from typing import Any

import pytest
from client_api.flow import execute

import leaks
from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock, rfc3339_ms
from imprint_sessions.credentials import new_id
from imprint_sessions.domain import audit
from imprint_sessions.domain.partners import MAX_ACTIVE_API_KEYS
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.records import (
    AuditQuery,
    NewCustomer,
    NewCustomerSession,
)
from partner_api.conftest import Caller, random_id, walk

AUDIT = "/v2/audit_events"
CLIENT_ADDRESS = "127.0.0.1"  # httpx's ASGI transport's peer


async def entries(caller: Caller, **params: Any) -> list[dict[str, Any]]:
    """Every entry of the caller's trail matching ``params``, oldest first, through the API."""
    pages = await walk(caller, AUDIT, limit=100, **params)
    return [entry for page in pages for entry in page["data"]]


async def only(caller: Caller, event_type: str, **params: Any) -> dict[str, Any]:
    (entry,) = await entries(caller, type=event_type, **params)
    return entry


async def key_id(caller: Caller) -> str:
    """The caller's key, as its own creation recorded it (the harness made it: ``system``)."""
    created = (await entries(caller, type="api_key.created"))[0]
    assert created["actor_type"] == "system"
    assert "actor_id" not in created
    assert "request_id" not in created
    assert caller.api_key.startswith(created["details"]["display_prefix"])
    value: str = created["object_id"]
    return value


def rows(inspector: DatabaseInspector, partner_id: str) -> int:
    return inspector.count("audit_events", partner_id)


async def customer_of(caller: Caller, partner_customer_id: str) -> str:
    found = await caller.get("/v2/customers", params={"partner_customer_id": partner_customer_id})
    value: str = found.json()["data"][0]["id"]
    return value


async def assert_by_the_key(caller: Caller, entry: dict[str, Any], request_id: str) -> None:
    assert entry["actor_type"] == "api_key"
    assert entry["actor_id"] == await key_id(caller)
    assert entry["actor_display"] == caller.api_key[: len("isk_test_") + 4]
    assert entry["request_id"] == request_id
    assert entry["client_address"] == CLIENT_ADDRESS
    assert entry["partner_id"] == caller.partner_id


# -- customer sessions ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["new customer", "new partner_customer_id", "known customer"])
async def test_creating_a_session_writes_one_entry_naming_the_key_and_customer(
    caller: Caller, clock: ManualClock, form: str
) -> None:
    body: dict[str, Any] = {}
    if form == "new partner_customer_id":
        body = {"partner_customer_id": "CUST_AUDIT"}
    elif form == "known customer":
        body = {"customer_id": await caller.new_customer("CUST_KNOWN")}
    before = len(await entries(caller, type="customer_session.created"))
    response = await caller.post(
        "/v2/customer_sessions", body, headers={"Request-Id": "audit-create-1"}
    )
    assert response.status_code == 200, response.text
    session = response.json()
    created = await entries(caller, type="customer_session.created")
    assert len(created) == before + 1
    entry = next(e for e in created if e["object_id"] == session["id"])
    await assert_by_the_key(caller, entry, "audit-create-1")
    assert entry["type"] == "customer_session.created"
    assert entry["object_type"] == "customer_session"
    assert entry["created_at"] == rfc3339_ms(clock.now_ms())
    customers = await caller.get("/v2/customers", params={"limit": 100})
    if form == "new customer":
        (customer,) = customers.json()["data"]
        expected = customer["id"]
    elif form == "new partner_customer_id":
        expected = await customer_of(caller, "CUST_AUDIT")
    else:
        expected = body["customer_id"]
    assert entry["details"] == {"customer_id": expected}


async def test_a_session_for_an_existing_partner_customer_id_names_that_customer(
    caller: Caller,
) -> None:
    customer_id = await caller.new_customer("CUST_AGAIN")
    again = await caller.new_session(partner_customer_id="CUST_AGAIN")
    entry = await only(caller, "customer_session.created", object_id=again["id"])
    assert entry["details"] == {"customer_id": customer_id}


async def test_a_refused_session_writes_no_entry(
    caller: Caller, intruder: Caller, inspector: DatabaseInspector
) -> None:
    mine = await caller.new_customer("CUST_MINE")
    theirs = await intruder.new_customer("CUST_THEIRS")
    before = rows(inspector, caller.partner_id)
    refused = [
        ({"customer_id": random_id()}, 404),  # no such customer
        ({"customer_id": theirs}, 404),  # another partner's
        ({"customer_id": mine, "partner_customer_id": "CUST_OTHER"}, 400),  # two customers
        ({"transaction_currency": "usd"}, 400),  # invalid
    ]
    for body, status in refused:
        response = await caller.post("/v2/customer_sessions", body)
        assert response.status_code == status, (body, response.text)
    assert rows(inspector, caller.partner_id) == before


async def test_a_replayed_idempotent_create_writes_no_second_entry(caller: Caller) -> None:
    headers = {"Idempotency-Key": "audit-replay-1"}
    first = await caller.post("/v2/customer_sessions", {}, headers=headers)
    again = await caller.post("/v2/customer_sessions", {}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(await entries(caller, type="customer_session.created")) == 1


async def test_expiring_a_session_writes_one_entry_and_expiring_it_again_none(
    caller: Caller, intruder: Caller
) -> None:
    session = await caller.new_session()
    path = f"/v2/customer_sessions/{session['id']}/expire"
    first = await caller.post(path, headers={"Request-Id": "audit-expire-1"})
    assert first.status_code == 200
    assert (await caller.post(path)).status_code == 200  # idempotent: nothing changes
    assert (await intruder.post(path)).status_code == 404
    entry = await only(caller, "customer_session.expired")
    await assert_by_the_key(caller, entry, "audit-expire-1")
    assert (entry["object_type"], entry["object_id"]) == ("customer_session", session["id"])
    assert entry["details"] == {}
    assert await entries(intruder, type="customer_session.expired") == []


async def test_a_session_already_past_its_lifetime_expires_without_an_entry(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session()
    clock.advance(seconds=caller.harness.services.settings.session_ttl_seconds + 1)
    response = await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert response.status_code == 200
    assert response.json()["state"] == "expired"
    assert await entries(caller, type="customer_session.expired") == []


# -- the exchange ---------------------------------------------------------------------------------


async def exchange(caller: Caller, secret: str, request_id: str | None = None) -> int:
    headers = {"Request-Id": request_id} if request_id else {}
    response = await caller.harness.client.post(
        "/v2/client/exchange", json={"client_secret": secret}, headers=headers
    )
    return response.status_code


async def test_the_exchange_writes_one_entry_by_the_client(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session()
    assert await exchange(caller, session["client_secret"], "audit-exchange-1") == 200
    entry = await only(caller, "customer_session.exchanged")
    assert entry == {
        "id": entry["id"],
        "type": "customer_session.exchanged",
        "created_at": rfc3339_ms(clock.now_ms()),
        "actor_type": "client",
        "object_type": "customer_session",
        "object_id": session["id"],
        "details": {},
        "request_id": "audit-exchange-1",
        "client_address": CLIENT_ADDRESS,
        "partner_id": caller.partner_id,
    }


@pytest.mark.parametrize("reason", ["already_used", "expired", "revoked"])
async def test_a_refused_exchange_writes_one_entry_saying_why(
    caller: Caller, clock: ManualClock, reason: str
) -> None:
    session = await caller.new_session()
    secret = session["client_secret"]
    if reason == "already_used":
        assert await exchange(caller, secret) == 200
    elif reason == "expired":
        clock.advance(seconds=caller.harness.services.settings.session_ttl_seconds)
    else:
        await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert await exchange(caller, secret, "audit-refused-1") == 401
    entry = await only(caller, "customer_session.exchange_refused")
    assert entry["details"] == {"reason": reason}
    assert (entry["actor_type"], entry["object_id"]) == ("client", session["id"])
    assert (entry["request_id"], entry["client_address"]) == ("audit-refused-1", CLIENT_ADDRESS)
    assert len(await entries(caller, type="customer_session.exchanged")) == (
        1 if reason == "already_used" else 0
    )


async def test_a_used_secret_that_was_revoked_too_is_refused_as_revoked(caller: Caller) -> None:
    session = await caller.new_session()
    assert await exchange(caller, session["client_secret"]) == 200
    await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert await exchange(caller, session["client_secret"]) == 401
    entry = await only(caller, "customer_session.exchange_refused")
    assert entry["details"] == {"reason": "revoked"}


async def test_a_forged_secret_reaches_neither_the_database_nor_the_trail(
    caller: Caller, inspector: DatabaseInspector
) -> None:
    session = await caller.new_session()
    before = rows(inspector, caller.partner_id)
    forged = session["client_secret"][:-2] + (
        "AA" if session["client_secret"][-2:] != "AA" else "BB"
    )
    assert await exchange(caller, forged) == 401
    assert await exchange(caller, "ics_nothing") == 401
    assert rows(inspector, caller.partner_id) == before


async def test_a_secret_whose_session_is_gone_is_refused_as_unknown_for_its_partner(
    caller: Caller, database_url: str
) -> None:
    """The trail outlives the session (a deleted throwaway partner's): the refusal still goes
    to the partner its creation entry names."""
    session = await caller.new_session()
    execute(database_url, "DELETE FROM customer_sessions WHERE id = ?", session["id"])
    assert await exchange(caller, session["client_secret"]) == 401
    entry = await only(caller, "customer_session.exchange_refused")
    assert (entry["object_id"], entry["details"]) == (session["id"], {"reason": "unknown"})


async def test_a_gone_session_with_no_creation_entry_is_refused_and_recorded_nowhere(
    harness: Harness, caller: Caller, database_url: str, inspector: DatabaseInspector
) -> None:
    """A session the trail never saw (written before it existed, here straight through the
    repository): once it is gone, no partner can be named, so nothing is recorded."""
    services = harness.services
    now = services.clock.now_ms()
    new = NewCustomerSession(
        id=new_id(),
        partner_id=caller.partner_id,
        customer_id=None,
        partner_customer_id=None,
        new_customer=NewCustomer(id=new_id()),
        merchant_key=None,
        secret_key_id=services.box.current_kid,
        transaction_amount=None,
        transaction_currency=None,
        customer_history_json=None,
        source=None,
        metadata_json=None,
        created_at=now,
        expires_at=now + 60_000,
    )
    await services.database.repositories.create_customer_session(new)
    secret = services.box.client_secret(new.id, new.secret_key_id)
    assert secret is not None
    _REGISTRY.remember(secret)
    execute(database_url, "DELETE FROM customer_sessions WHERE id = ?", new.id)
    before = rows(inspector, caller.partner_id)
    assert await exchange(caller, secret) == 401
    assert rows(inspector, caller.partner_id) == before
    assert inspector.scalar("SELECT count(*) FROM audit_events WHERE object_id = ?", new.id) == 0


# -- API keys -----------------------------------------------------------------------------------


async def test_creating_and_deleting_a_key_write_one_entry_each(caller: Caller) -> None:
    created = await caller.post("/v2/keys", headers={"Request-Id": "audit-key-1"})
    assert created.status_code == 200, created.text
    new_key = created.json()
    deleted = await caller.delete("/v2/keys", {"id": new_key["id"]}, headers={"Request-Id": "k2"})
    assert deleted.status_code == 200, deleted.text
    made = [e for e in await entries(caller, type="api_key.created") if e["actor_type"] != "system"]
    (made_entry,) = made
    await assert_by_the_key(caller, made_entry, "audit-key-1")
    assert (made_entry["object_type"], made_entry["object_id"]) == ("api_key", new_key["id"])
    assert made_entry["details"] == {"display_prefix": new_key["display_prefix"]}
    revoked = await only(caller, "api_key.revoked")
    await assert_by_the_key(caller, revoked, "k2")
    assert revoked["object_id"] == new_key["id"]
    assert revoked["details"] == {"display_prefix": new_key["display_prefix"]}


async def test_refused_key_changes_write_no_entry(
    caller: Caller, inspector: DatabaseInspector
) -> None:
    before = rows(inspector, caller.partner_id)
    # The last active key cannot be deleted: the revocation and its entry roll back together.
    last = await caller.delete("/v2/keys", {"id": await key_id(caller)})
    assert last.status_code == 409
    assert (await caller.delete("/v2/keys", {"id": random_id()})).status_code == 404
    assert rows(inspector, caller.partner_id) == before
    for _ in range(MAX_ACTIVE_API_KEYS - 1):
        assert (await caller.post("/v2/keys")).status_code == 200
    grown = rows(inspector, caller.partner_id)
    assert grown == before + MAX_ACTIVE_API_KEYS - 1
    assert (await caller.post("/v2/keys")).status_code == 409  # over the limit
    assert rows(inspector, caller.partner_id) == grown


# -- webhook endpoints ----------------------------------------------------------------------------


async def test_each_webhook_endpoint_change_writes_one_entry_and_never_its_url(
    caller: Caller,
) -> None:
    url = "http://localhost:9/hooks?token=partner-private-token"
    created = await caller.post(
        "/v2/webhook_endpoints", {"url": url, "event_types": ["APPLICATION"]}
    )
    assert created.status_code == 200, created.text
    endpoint = created.json()
    _REGISTRY.remember(endpoint["secret"])
    path = f"/v2/webhook_endpoints/{endpoint['id']}"
    rotated = await caller.post(f"{path}/rotate_secret", {"grace_period_seconds": 60})
    _REGISTRY.remember(rotated.json()["secret"])
    for _ in range(2):  # disabling again changes nothing, and writes nothing
        assert (await caller.post(f"{path}/disable")).status_code == 200
    assert (await caller.delete(path)).status_code == 200
    assert (await caller.delete(path)).status_code == 404
    found = [e for e in await entries(caller) if e["object_type"] == "webhook_endpoint"]
    assert [(e["type"], e["details"]) for e in found] == [
        ("webhook_endpoint.created", {"event_types": ["APPLICATION"]}),
        ("webhook_endpoint.secret_rotated", {"grace_period_seconds": 60}),
        ("webhook_endpoint.disabled", {}),
        ("webhook_endpoint.deleted", {}),
    ]
    for entry in found:
        assert entry["object_id"] == endpoint["id"]
        assert entry["actor_id"] == await key_id(caller)
        assert "token" not in str(entry)
        assert "localhost" not in str(entry)


async def test_an_unknown_endpoint_change_writes_no_entry(
    caller: Caller, intruder: Caller, inspector: DatabaseInspector
) -> None:
    created = await intruder.post("/v2/webhook_endpoints", {"url": "http://localhost:9/x"})
    _REGISTRY.remember(created.json()["secret"])
    theirs = f"/v2/webhook_endpoints/{created.json()['id']}"
    before = rows(inspector, caller.partner_id)
    for path in (theirs, f"/v2/webhook_endpoints/{random_id()}", "/v2/webhook_endpoints/nope"):
        assert (await caller.post(f"{path}/disable")).status_code == 404
        assert (await caller.post(f"{path}/rotate_secret")).status_code == 404
        assert (await caller.delete(path)).status_code == 404
    bad_grace = await intruder.post(f"{theirs}/rotate_secret", {"grace_period_seconds": 10**7})
    assert bad_grace.status_code == 400
    assert rows(inspector, caller.partner_id) == before
    assert [e["type"] for e in await entries(intruder) if e["actor_type"] != "system"] == [
        "webhook_endpoint.created"
    ]


# -- listing the trail --------------------------------------------------------------------------


async def test_the_trail_is_listed_oldest_first_in_pages(
    caller: Caller, clock: ManualClock
) -> None:
    for _ in range(4):
        clock.advance(ms=1)
        await caller.new_session()
    pages = await walk(caller, AUDIT, limit=2)
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert {p["total"] for p in pages} == {5}
    listed = [e for p in pages for e in p["data"]]
    assert [e["type"] for e in listed] == ["api_key.created"] + ["customer_session.created"] * 4
    assert [e["created_at"] for e in listed] == sorted(e["created_at"] for e in listed)
    assert len({e["id"] for e in listed}) == 5


async def test_the_trail_is_filtered_by_type_object_and_time(
    caller: Caller, clock: ManualClock
) -> None:
    start = clock.now_ms()
    first = await caller.new_session()
    clock.advance(seconds=10)
    middle = clock.now_ms()
    second = await caller.new_session()
    await exchange(caller, second["client_secret"])
    clock.advance(seconds=10)
    await exchange(caller, second["client_secret"])
    both = ["customer_session.exchanged", "customer_session.exchange_refused"]
    by_repeat = await entries(caller, type=both)
    by_comma = await entries(caller, type=",".join(both))
    assert [e["type"] for e in by_repeat] == [e["type"] for e in by_comma] == both
    assert {e["object_id"] for e in await entries(caller, object_id=second["id"].lower())} == {
        second["id"]
    }
    assert [e["type"] for e in await entries(caller, object_id=second["id"])] == [
        "customer_session.created",
        *both,
    ]
    window = {"created_gte": rfc3339_ms(middle), "created_lt": rfc3339_ms(middle + 10_000)}
    in_window = await entries(caller, **window)
    assert [e["type"] for e in in_window] == ["customer_session.created", both[0]]
    assert all(e["object_id"] == second["id"] for e in in_window)
    since_start = await entries(
        caller, created_gte=rfc3339_ms(start), type="customer_session.created"
    )
    assert [e["object_id"] for e in since_start] == [first["id"], second["id"]]
    # An offset and a fraction finer than the stored millisecond are honoured exactly.
    just_after = rfc3339_ms(middle).replace("Z", "001+00:00")
    assert [e["type"] for e in await entries(caller, created_lt=just_after, type=both)] == [both[0]]
    page = (await caller.get(AUDIT, params={"type": both, "limit": 1})).json()
    assert (page["total"], page["has_more"]) == (2, True)


async def test_bad_filters_are_all_listed_in_one_400(caller: Caller) -> None:
    response = await caller.get(
        AUDIT,
        params={
            "type": ["customer_session.created", "nope"],
            "object_id": "not-an-id",
            "created_gte": "yesterday",
            "created_lt": "2025-02-30T00:00:00Z",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert body["details"] == [
        f"type: must be among {', '.join(audit.EVENT_TYPES)}",
        "object_id: must be an id (a UUID)",
        "created_gte: must be an RFC-3339 timestamp",
        "created_lt: must be an RFC-3339 timestamp",
    ]
    for params, detail in (
        ({"limit": 0}, "limit: must be greater than or equal to 1"),
        ({"starting_after": "nope"}, "starting_after: must be the id of one of your audit events"),
        (
            {"starting_after": random_id()},
            "starting_after: must be the id of one of your audit events",
        ),
    ):
        refused = await caller.get(AUDIT, params=params)
        assert (refused.status_code, refused.json()["details"]) == (400, [detail])


async def test_another_partners_entries_are_never_visible(caller: Caller, intruder: Caller) -> None:
    theirs = await intruder.new_session()
    await exchange(intruder, theirs["client_secret"])
    their_entries = await entries(intruder)
    assert len(their_entries) == 3
    await caller.new_session()
    mine = await entries(caller)
    assert {e["partner_id"] for e in mine} == {caller.partner_id}
    assert not {e["id"] for e in mine} & {e["id"] for e in their_entries}
    assert await entries(caller, object_id=theirs["id"]) == []
    cursor = await caller.get(AUDIT, params={"starting_after": their_entries[0]["id"]})
    assert cursor.status_code == 400
    assert (await caller.harness.client.get(AUDIT)).status_code == 401


async def test_simulated_applications_sessions_are_the_keys(caller: Caller) -> None:
    customer_id = await caller.new_customer("CUST_SIM")
    response = await caller.post(
        "/v2/simulate_application", {"customer_id": customer_id, "status": "REJECTED"}
    )
    assert response.status_code == 200, response.text
    created = await entries(caller, type="customer_session.created")
    assert len(created) == 2
    assert {e["actor_type"] for e in created} == {"api_key"}
    assert {e["details"]["customer_id"] for e in created} == {customer_id}


async def test_no_entry_holds_a_secret(
    caller: Caller, inspector: DatabaseInspector, database_url: str
) -> None:
    """Every credential this flow handled (the API keys, the client secret and credential, the
    signing secrets), in every encoding the leak sweep knows, is absent from every stored entry."""
    session = await caller.new_session(customer_history={"email": "ada@example.com"})
    issued = [caller.api_key, session["client_secret"]]
    exchanged = await caller.harness.client.post(
        "/v2/client/exchange", json={"client_secret": session["client_secret"]}
    )
    issued.append(exchanged.json()["access_token"])
    await exchange(caller, session["client_secret"])
    key = (await caller.post("/v2/keys")).json()
    issued.append(key["api_key"])
    await caller.delete("/v2/keys", {"id": key["id"]})
    endpoint = (await caller.post("/v2/webhook_endpoints", {"url": "http://localhost:9/h"})).json()
    rotated = await caller.post(f"/v2/webhook_endpoints/{endpoint['id']}/rotate_secret")
    issued += [endpoint["secret"], rotated.json()["secret"]]
    for credential in issued:
        _REGISTRY.remember(credential)
    stored = stored_entries(database_url, caller.partner_id)
    assert len(stored) == 8, stored
    for credential in issued:
        for form in leaks.credential_forms(credential):
            assert not any(form in row for row in stored), leaks.kind_of(credential)


def stored_entries(database_url: str, partner_id: str) -> list[str]:
    """The partner's rows of ``audit_events``, each as one text, read straight from the table."""
    if database_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database_url) as conn:
            found = conn.execute(
                "SELECT a::text FROM audit_events a WHERE partner_id = %s", (partner_id,)
            ).fetchall()
        return [row[0] for row in found]
    import sqlite3

    conn = sqlite3.connect(database_url.split(":///", 1)[1])
    try:
        return [
            "|".join(str(v) for v in row)
            for row in conn.execute(
                "SELECT * FROM audit_events WHERE partner_id = ?", (partner_id,)
            )
        ]
    finally:
        conn.close()


# -- the domain's own checks, beyond what the route's parameters already refuse --------------------


async def test_listing_refuses_a_page_size_out_of_range(harness: Harness, caller: Caller) -> None:
    for limit in (0, audit.MAX_PAGE_SIZE + 1):
        with pytest.raises(InvalidRequest, match="limit: must be 1 to 100"):
            await audit.list_audit_events(
                harness.services.database.repositories,
                partner_id=caller.partner_id,
                query=AuditQuery(),
                limit=limit,
                starting_after=None,
            )


async def test_an_export_reads_every_entry_in_batches(harness: Harness, caller: Caller) -> None:
    for _ in range(4):
        await caller.new_session()
    repos = harness.services.database.repositories
    exported = [
        event
        async for event in audit.export_audit_events(
            repos, partner_id=caller.partner_id.lower(), query=AuditQuery(), batch=2
        )
    ]
    listed = await entries(caller)
    assert [e.id for e in exported] == [e["id"] for e in listed]
    only_sessions = audit.audit_query(types=["customer_session.created"])
    assert (
        len(
            [
                e
                async for e in audit.export_audit_events(
                    repos, partner_id=caller.partner_id, query=only_sessions, batch=3
                )
            ]
        )
        == 4
    )
    with pytest.raises(InvalidRequest, match="partner: must be an id"):
        async for _ in audit.export_audit_events(repos, partner_id="nope", query=AuditQuery()):
            pass
