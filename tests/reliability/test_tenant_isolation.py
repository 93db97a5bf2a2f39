"""Issue 7, promise 3: another partner's ids behave exactly like ids that do not exist."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY, DatabaseInspector, Harness

# What a path parameter, a query parameter or a request-body field names, by its name. An
# operation naming something not listed here fails the test: extend the maps (and give partner A
# one of the new objects) so no new endpoint escapes the check.
PATH_KINDS = {
    "session_id": "session",
    "customer_id": "customer",
    "payment_method_id": "payment_method",
    "endpoint_id": "webhook_endpoint",
    "event_id": "webhook_event",
    "delivery_id": "webhook_delivery",
    "fault_id": "fault",
    "sandbox_id": "sandbox",
}
# ``starting_after`` names an object of the kind the operation lists.
CURSOR_KINDS = {
    "listCustomers": "customer",
    "searchCustomers": "customer",
    "listCustomerSessions": "session",
    "listPaymentMethods": "payment_method",
    "listWebhookEvents": "webhook_event",
    "listAuditEvents": "audit_event",
}
FIELD_KINDS = {
    "customer_id": "customer",
    "partner_customer_id": "partner_customer_id",
    "endpoint_id": "webhook_endpoint",  # a test fault's (createFault)
    "payment_method_id": "payment_method",  # an event fired for it (fireWebhookEvent)
    "object_id": "session",  # the audit trail's filter: any object's id (A's session, here)
}
# Query parameters that name no object (a type, a moment): nothing to look up across partners.
NOT_IDS = {
    ("listAuditEvents", "type"),
    ("listAuditEvents", "created_gte"),
    ("listAuditEvents", "created_lt"),
}
# Fields that give partner B's own object an id of B's choosing, not look one up: B may use the
# same partner_customer_id as A (each partner's ids are its own), so these are not lookups.
ASSIGNED = {("createSession", "partner_customer_id"), ("updateCustomer", "partner_customer_id")}
# Fields named only ``id``: what they name, per operation.
BARE_ID_KINDS = {"deleteKey": "api_key"}
# A valid body (as partner B would send it) for every partner-API operation that takes one; the
# id fields under test are set on top of it. Mutating operations get a body that would change
# something if it reached one of A's objects.
BODIES: dict[str, dict[str, Any]] = {
    "createSession": {"metadata": {"from": "partner B"}},
    "createWebhookEndpoint": {"url": "http://localhost:9/partner-b"},
    "rotateWebhookSecret": {"grace_period_seconds": 0},
    "simulateApplication": {"status": "REJECTED"},
    "searchCustomers": {"partner_customer_id": "CUST_nobody_at_all"},
    "updateCustomer": {
        "first_name": "Mallory",
        "email": "mallory@example.com",
        "metadata": {"owner": "partner B"},
    },
    "deleteKey": {"id": "00000000-0000-4000-8000-000000000000"},
    # Sandbox test helpers: failing A's endpoint, firing an event for A's customer.
    "createFault": {"kind": "webhook_failure"},
    "createSandbox": {"name": "partner B's"},
    "advanceTestClock": {"seconds": 60},
    "fireWebhookEvent": {"type": "PAYMENT_METHOD", "new_status": "INACTIVE"},
}
# Headers that may differ between two identical answers.
VOLATILE_HEADERS = {"request-id", "date", "content-length"}
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_CREDENTIAL = re.compile(r"\b(?:ics|isk_test|isk_live|whsec|ict)_[A-Za-z0-9_\-+/=]+")


def _same_shape(kind: str) -> str:
    """A well-formed id of ``kind`` that exists nowhere."""
    if kind == "partner_customer_id":
        return f"CUST_{secrets.token_hex(6)}"
    return str(uuid.uuid4()).upper()


def _masked(response: httpx.Response, named: str) -> dict[str, Any]:
    """What must match between two answers: status, headers and body, with the id the request
    named replaced by a placeholder (an echoed id must be echoed the same way) and values that
    differ between any two requests (timestamps, other fresh ids, new credentials) masked."""
    text = response.text
    for form in {named, named.lower(), named.upper()}:
        text = text.replace(form, "<NAMED>")
    text = _CREDENTIAL.sub("<CREDENTIAL>", _TIMESTAMP.sub("<TIME>", _UUID.sub("<UUID>", text)))
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE_HEADERS}
    return {"status": response.status_code, "headers": headers, "body": text}


def _snapshot(inspector: DatabaseInspector, partner_b: str) -> dict[str, list[str]]:
    """Every row of every table except partner B's own: B's calls may write only B's rows."""
    found: dict[str, list[str]] = {}
    if inspector.url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(inspector.url) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' ORDER BY table_name"
                )
            ]
            for name in names:
                cursor = conn.execute(f'SELECT * FROM "{name}"')
                found[name] = _rows(cursor.description, cursor.fetchall(), partner_b)
        return found
    import sqlite3

    lite = sqlite3.connect(inspector.url.split(":///", 1)[1])
    try:
        names = [
            r[0]
            for r in lite.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
        ]
        for name in names:
            rows = lite.execute(f'SELECT * FROM "{name}"')
            found[name] = _rows(rows.description, rows.fetchall(), partner_b)
    finally:
        lite.close()
    return found


def _rows(description: Any, rows: list[Any], partner_b: str) -> list[str]:
    columns = [d[0] for d in description]
    kept = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        if record.get("partner_id") == partner_b or record.get("id") == partner_b:
            continue
        kept.append(repr(sorted(record.items())))
    return sorted(kept)


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


async def _objects_of_a(h: Harness, auth: tuple[str, str]) -> dict[str, str]:
    """One of every object the partner API addresses by id, owned by partner A."""
    client = h.client
    endpoint = await _ok(
        await client.post(
            "/v2/webhook_endpoints", json={"url": "http://localhost:9/partner-a"}, auth=auth
        )
    )
    _REGISTRY.remember(endpoint["secret"])
    pcid = f"CUST_{secrets.token_hex(6)}"
    session = await _ok(
        await client.post(
            "/v2/customer_sessions",
            json={"partner_customer_id": pcid, "customer_history": {"first_name": "Ada"}},
            auth=auth,
        )
    )
    listed = await _ok(
        await client.get("/v2/customers", params={"partner_customer_id": pcid}, auth=auth)
    )
    [customer] = listed["data"]
    # A card, as an accepted offer creates one; the decision writes webhook events and, with
    # the endpoint above, their deliveries.
    simulated = await _ok(
        await client.post(
            "/v2/simulate_application",
            json={"customer_id": customer["id"], "status": "OFFER_ACCEPTED"},
            auth=auth,
        )
    )
    events = await _ok(await client.get("/v2/webhook_events", auth=auth))
    event_id = events["data"][0]["id"]
    deliveries = await _ok(await client.get(f"/v2/webhook_events/{event_id}/deliveries", auth=auth))
    key = await _ok(await client.post("/v2/keys", auth=auth))
    _REGISTRY.remember(key["api_key"])
    trail = await _ok(await client.get("/v2/audit_events", auth=auth))
    outcome = {"kind": "hosted_outcome", "outcome": "IN_PROGRESS"}
    fault = await _ok(await client.post("/v2/test_helpers/faults", json=outcome, auth=auth))
    sandbox = await _ok(
        await client.post("/v2/test_helpers/sandboxes", json={"test_clock": {}}, auth=auth)
    )
    _REGISTRY.remember(sandbox["api_key"])
    return {
        "audit_event": trail["data"][0]["id"],
        "session": session["id"],
        "customer": customer["id"],
        "partner_customer_id": pcid,
        "payment_method": simulated["payment_method_id"],
        "webhook_endpoint": endpoint["id"],
        "webhook_event": event_id,
        "webhook_delivery": deliveries["data"][0]["id"],
        "api_key": key["id"],
        "second_key": key["api_key"],
        "fault": fault["id"],
        "sandbox": sandbox["id"],
    }


async def _what_a_sees(h: Harness, a: dict[str, str]) -> list[Any]:
    """Everything partner A can read about its objects, read with its second key (so a deleted
    key fails here)."""
    auth = (a["second_key"], "")
    seen = []
    for path in [
        f"/v2/customer_sessions/{a['session']}",
        f"/v2/customers/{a['customer']}",
        f"/v2/customers/{a['customer']}/customer_sessions",
        f"/v2/customers/{a['customer']}/payment_methods",
        f"/v2/payment_methods/{a['payment_method']}",
        "/v2/customers",
        "/v2/webhook_endpoints",
        "/v2/webhook_events",
        f"/v2/webhook_events/{a['webhook_event']}/deliveries",
        "/v2/audit_events?limit=100",
        "/v2/test_helpers/faults",
        "/v2/test_helpers/sandboxes",
    ]:
        seen.append((path, await _ok(await h.client.get(path, auth=auth))))
    return seen


def _fail_unmapped(operation: str, what: str) -> None:
    pytest.fail(
        f"{operation}: {what} is not in test_tenant_isolation.py's maps: say which object it "
        "names (and give partner A one), so the endpoint is checked for isolation"
    )


def _cases(spec: dict[str, Any], b_customer: str) -> list[dict[str, Any]]:
    """One request per id-naming parameter or field of every partner-API operation."""
    schemas = spec["components"]["schemas"]
    cases: list[dict[str, Any]] = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/v2/") or path.startswith("/v2/client/"):
            continue
        for method, op in operations.items():
            name = op["operationId"]
            params = op.get("parameters", [])
            path_params = [p["name"] for p in params if p["in"] == "path"]
            body_ref = op.get("requestBody", {}).get("content", {}).get("application/json")
            body_fields: list[str] = []
            if body_ref is not None:
                if name not in BODIES:
                    _fail_unmapped(name, "its request body")
                schema = schemas[body_ref["schema"]["$ref"].rsplit("/", 1)[1]]
                body_fields = list(schema.get("properties", {}))
            base = {"method": method.upper(), "operation": name, "body": BODIES.get(name)}
            # (a) every path parameter naming one of A's objects (or all at once, if several).
            if path_params:
                kinds = {}
                for param in path_params:
                    if param not in PATH_KINDS:
                        _fail_unmapped(name, f"path parameter {param!r}")
                    kinds[param] = PATH_KINDS[param]
                cases.append({**base, "path": path, "path_kinds": kinds, "where": "path"})
            own_path = path.replace("{customer_id}", b_customer)
            if "{" in own_path:
                own_path = ""  # only needed below, where it is checked
            # (b) query parameters naming objects: filters and cursors.
            for param in params:
                if param["in"] != "query" or param["name"] == "limit":
                    continue
                if (name, param["name"]) in NOT_IDS:
                    continue
                if param["name"] == "starting_after":
                    kind = CURSOR_KINDS.get(name)
                elif param["name"] in FIELD_KINDS:
                    kind = FIELD_KINDS[param["name"]]
                else:
                    kind = None
                if kind is None:
                    _fail_unmapped(name, f"query parameter {param['name']!r}")
                if not own_path:
                    _fail_unmapped(name, f"a path of partner B's own objects ({path})")
                cases.append(
                    {**base, "path": own_path, "query": param["name"], "kind": kind, "where": "q"}
                )
            # (c) body fields naming objects.
            for field in body_fields:
                if (name, field) in ASSIGNED:
                    continue
                if field == "starting_after":
                    kind = CURSOR_KINDS.get(name)
                elif field == "id":
                    kind = BARE_ID_KINDS.get(name)
                elif field in FIELD_KINDS:
                    kind = FIELD_KINDS[field]
                elif field.endswith("_id"):
                    kind = None
                else:
                    continue
                if kind is None:
                    _fail_unmapped(name, f"body field {field!r}")
                if not own_path:
                    _fail_unmapped(name, f"a path of partner B's own objects ({path})")
                cases.append(
                    {**base, "path": own_path, "field": field, "kind": kind, "where": "body"}
                )
    return cases


async def _call(
    h: Harness, case: dict[str, Any], auth: tuple[str, str], ids: dict[str, str]
) -> tuple[httpx.Response, str]:
    """The case's request with ``ids`` (kind -> id) filled in; also the id it names."""
    path: str = case["path"]
    body = dict(case["body"]) if case["body"] is not None else None
    query: dict[str, str] = {}
    if case["where"] == "path":
        for param, kind in case["path_kinds"].items():
            path = path.replace("{" + param + "}", ids[kind])
        named = ids[next(iter(case["path_kinds"].values()))]
    elif case["where"] == "q":
        named = ids[case["kind"]]
        query[case["query"]] = named
    else:
        named = ids[case["kind"]]
        assert body is not None
        body[case["field"]] = named
    response = await h.client.request(
        case["method"],
        path,
        params=query,
        content=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"} if body is not None else {},
        auth=auth,
    )
    return response, named


@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """A database of its own: the webhook deliveries this test causes stay out of the shared
    PostgreSQL database, where a later test's worker would drain them."""
    return isolated_database_url


async def test_another_partners_ids_answer_exactly_like_ids_that_do_not_exist(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    started = time.perf_counter()
    _, key_a = await harness.new_partner()
    partner_b, key_b = await harness.new_partner()
    await _check_isolation(harness, inspector, key_a, partner_b, key_b)
    print(f"in {time.perf_counter() - started:.2f} s")


async def _check_isolation(
    harness: Harness, inspector: DatabaseInspector, key_a: str, partner_b: str, key_b: str
) -> None:
    a = await _objects_of_a(harness, (key_a, ""))
    auth_b = (key_b, "")
    b_pcid = f"CUST_{secrets.token_hex(6)}"
    await _ok(
        await harness.client.post(
            "/v2/customer_sessions", json={"partner_customer_id": b_pcid}, auth=auth_b
        )
    )
    listed = await _ok(
        await harness.client.get(
            "/v2/customers", params={"partner_customer_id": b_pcid}, auth=auth_b
        )
    )
    b_customer = listed["data"][0]["id"]

    cases = _cases(harness.app.openapi(), b_customer)
    seen_before = await _what_a_sees(harness, a)
    rows_before = _snapshot(inspector, partner_b)

    operations = set()
    differences = []
    for case in cases:
        nowhere = {kind: _same_shape(kind) for kind in a}
        # The nonexistent id first, then A's: a mutation that leaked into A's object would show
        # as a different answer, not hide behind one.
        absent, absent_id = await _call(harness, case, auth_b, nowhere)
        foreign, foreign_id = await _call(harness, case, auth_b, a)
        assert absent.status_code < 500, (case, absent.text)
        if _masked(absent, absent_id) != _masked(foreign, foreign_id):
            differences.append(
                (case["operation"], case["where"], _masked(absent, absent_id), foreign.text)
            )
        operations.add(case["operation"])
    assert not differences, "\n".join(map(str, differences))

    assert await _what_a_sees(harness, a) == seen_before
    assert _snapshot(inspector, partner_b) == rows_before
    print(
        f"\ntenant isolation: {len(operations)} operations, {len(cases)} id-naming parameters, "
        "each with A's id and a nonexistent one, ",
        end="",
    )
