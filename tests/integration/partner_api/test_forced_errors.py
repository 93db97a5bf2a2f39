"""Sandbox test faults on the wire: every operation a fault may name answers a forced 429, 500
or 503 exactly as the real error is rendered, changes nothing, and faults only its own partner.

Both ways of asking are covered: the ``Imprint-Test-Fault`` header on one request, and faults
declared ahead (``POST /v2/test_helpers/faults``) that apply to the next ``times`` requests.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from client_api.flow import CARD, PHONE, PROFILE, bearer, verify_phone

from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.faults import FAULTABLE_OPERATIONS
from imprint_sessions.storage.tables import metadata
from imprint_sessions.storage.urls import backend
from partner_api.conftest import Caller, NewCaller, other_app

ENVELOPE = {"path", "details", "error", "status", "timestamp"}
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
FAULT = "Imprint-Test-Fault"


def _sync_url(database_url: str) -> str:
    if backend(database_url) == "postgresql":
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return database_url


def every_row(database_url: str) -> dict[str, list[str]]:
    """Each table's rows (but the faults' own), as sorted text: what "changes nothing" means."""
    engine = sa.create_engine(_sync_url(database_url))
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
                for table in metadata.sorted_tables
                if table.name != "test_faults"
            }
    finally:
        engine.dispose()


def assert_forced(response: httpx.Response, status: int, retry_after: int | None) -> None:
    """The real error's envelope and headers; the detail says it was forced."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ENVELOPE, body
    assert (body["status"], body["error"]) == (status, REASONS[status])
    assert body["details"][0].startswith(f"test fault: a forced {status}"), body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["request-id"].startswith("req_")
    if retry_after is None:
        assert "retry-after" not in response.headers
    else:
        assert response.headers["retry-after"] == str(retry_after)


class World:
    """A partner with one of everything, and a request for each faultable operation that would
    change (or read) a real object."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.h = caller.harness

    async def build(self) -> World:
        c, h = self.caller, self.h
        self.customer_id = await c.new_customer("CUST_FAULTS")
        self.session = await c.new_session(partner_customer_id="CUST_FAULTS")
        self.payment_method_id = await c.new_payment_method(self.customer_id)
        endpoint = await c.post("/v2/webhook_endpoints", {"url": "http://127.0.0.1:9/hooks"})
        self.endpoint_id = endpoint.json()["id"]
        key = await c.post("/v2/keys")
        self.key_id = key.json()["id"]
        self.fresh_secret = (await c.new_session())["client_secret"]
        token_session = await c.new_session(
            customer_history={"first_name": "Ada", "last_name": "approve", "phone": PHONE}
        )
        exchanged = await h.client.post(
            "/v2/client/exchange", json={"client_secret": token_session["client_secret"]}
        )
        self.token = exchanged.json()["access_token"]
        await h.client.post(
            "/v2/client/profile", json={**PROFILE, "phone": PHONE}, headers=bearer(self.token)
        )
        await verify_phone(h, self.token)
        applied = await h.client.post(
            "/v2/client/applications", json=CARD, headers=bearer(self.token)
        )
        self.application_id = applied.json()["id"]
        await c.post(
            "/v2/simulate_application", {"customer_id": self.customer_id, "status": "REJECTED"}
        )
        events = await c.get("/v2/webhook_events")
        self.event_id = events.json()["data"][0]["id"]
        return self

    def requests(self, spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """operationId -> (method, URL, httpx arguments), for every faultable operation."""
        ids = {
            "session_id": self.session["id"],
            "customer_id": self.customer_id,
            "payment_method_id": self.payment_method_id,
            "endpoint_id": self.endpoint_id,
            "event_id": self.event_id,
            "delivery_id": str(uuid.uuid4()).upper(),
            "application_id": self.application_id,
        }
        bodies: dict[str, Any] = {
            "createSession": {"partner_customer_id": "CUST_NEVER_MADE"},
            "updateCustomer": {"metadata": {"changed": "yes"}},
            "searchCustomers": {"partner_customer_id": "CUST_FAULTS"},
            "createWebhookEndpoint": {"url": "http://127.0.0.1:9/other"},
            "rotateWebhookSecret": {"grace_period_seconds": 0},
            "deleteKey": {"id": self.key_id},
            "simulateApplication": {"customer_id": self.customer_id, "status": "REJECTED"},
            "exchangeClientSecret": {"client_secret": self.fresh_secret},
            "updateClientProfile": {"first_name": "Changed"},
            "confirmPhoneVerification": {"code": "888888"},
            "createClientApplication": CARD,
        }
        found = {}
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                name = operation["operationId"]
                if name not in FAULTABLE_OPERATIONS:
                    continue
                kwargs: dict[str, Any] = {"headers": {}}
                if not path.startswith("/v2/client/"):
                    kwargs["auth"] = self.caller.auth
                elif path != "/v2/client/exchange":  # the exchange's credential is its body
                    kwargs["headers"] = bearer(self.token)
                if name in bodies:
                    kwargs["json"] = bodies[name]
                found[name] = (method.upper(), path.format(**ids), kwargs)
        return found


async def test_every_faultable_operation_answers_each_forced_status_and_changes_nothing(
    caller: Caller, database_url: str
) -> None:
    h = caller.harness
    world = await World(caller).build()
    requests = world.requests(h.app.openapi())
    assert set(requests) == FAULTABLE_OPERATIONS
    before = every_row(database_url)
    for name, (method, url, kwargs) in sorted(requests.items()):
        for header, status, retry_after in [
            ("status=429; retry_after=7", 429, 7),
            ("status=500", 500, None),
            ("status=503", 503, 1),
            ("delay_ms=1; status=503; retry_after=3600", 503, 3600),
        ]:
            headers = {**kwargs["headers"], FAULT: header}
            response = await h.client.request(method, url, **{**kwargs, "headers": headers})
            try:
                assert_forced(response, status, retry_after)
            except AssertionError as exc:
                raise AssertionError(f"{name} with {header!r}: {exc}") from exc
    assert every_row(database_url) == before
    # The same requests without the header do change things: the comparison could fail.
    for method, url, kwargs in requests.values():
        await h.client.request(method, url, **kwargs)
    assert every_row(database_url) != before


async def test_a_forced_429_has_the_headers_and_body_shape_of_the_real_rate_limit(
    settings: Settings, clock: ManualClock, caller: Caller
) -> None:
    limited = {"rate_limit_per_second": 1, "rate_limit_burst": 1}
    async with other_app(settings, clock, **limited) as client:
        forced = await client.get(
            "/v2/webhook_endpoints", auth=caller.auth, headers={FAULT: "status=429"}
        )
        real = await client.get("/v2/webhook_endpoints", auth=caller.auth)
    assert (forced.status_code, real.status_code) == (429, 429)
    assert sorted(forced.headers) == sorted(real.headers)
    assert set(forced.json()) == set(real.json()) == ENVELOPE
    assert {k: v for k, v in forced.json().items() if k not in ("details", "timestamp")} == {
        k: v for k, v in real.json().items() if k not in ("details", "timestamp")
    }


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("status=404", "status must be 429, 500 or 503"),
        ("status=abc", "status must be 429, 500 or 503"),
        ("status=500; retry_after=2", "retry_after goes with status=429 or status=503"),
        ("status=503; drop", "status and drop exclude each other"),
        ("delay_ms=0", "delay_ms must be an integer from 1 to 30000"),
        ("delay_ms=30001", "delay_ms must be an integer from 1 to 30000"),
        ("retry_after=2", "retry_after goes with status=429 or status=503"),
        ("explode", None),
        ("", None),
        ("drop=1", None),
        ("status", None),
        ("status=503; status=429", None),
    ],
)
async def test_a_malformed_header_is_a_400_naming_it_after_authentication(
    caller: Caller, value: str, detail: str | None
) -> None:
    h = caller.harness
    response = await caller.get("/v2/webhook_endpoints", headers={FAULT: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == ENVELOPE
    (problem,) = body["details"]
    assert problem.startswith("imprint-test-fault: ")
    if detail is not None:
        assert problem == f"imprint-test-fault: {detail}"
    # Without a valid key the header is never read: the one 401.
    unauthenticated = await h.client.get("/v2/webhook_endpoints", headers={FAULT: value})
    assert unauthenticated.status_code == 401


async def test_a_delay_makes_the_request_late_and_then_it_runs(caller: Caller) -> None:
    started = time.monotonic()
    response = await caller.post("/v2/customer_sessions", {}, headers={FAULT: "delay_ms=250"})
    assert time.monotonic() - started >= 0.25
    assert response.status_code == 200, response.text
    assert response.json()["client_secret"].startswith("ics_")


async def test_declared_faults_apply_to_the_next_times_requests_then_stop(caller: Caller) -> None:
    declared = await caller.post(
        "/v2/test_helpers/faults",
        {
            "kind": "error",
            "operation": "createSession",
            "status": 503,
            "retry_after": 5,
            "times": 2,
        },
    )
    assert declared.status_code == 200, declared.text
    fault_id = declared.json()["id"]
    answers = [(await caller.post("/v2/customer_sessions", {})) for _ in range(3)]
    for response in answers[:2]:
        assert_forced(response, 503, 5)
        assert fault_id in response.json()["details"][0]
    assert answers[2].status_code == 200
    # Another operation was never faulted.
    assert (await caller.get(f"/v2/customer_sessions/{answers[2].json()['id']}")).status_code == 200
    (listed,) = (await caller.get("/v2/test_helpers/faults")).json()["data"]
    assert (listed["id"], listed["times"], listed["remaining"]) == (fault_id, 2, 0)


async def test_a_fault_until_deleted_applies_until_it_is_deleted(caller: Caller) -> None:
    declared = await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "getSession", "status": 500, "until_deleted": True},
    )
    assert declared.status_code == 200, declared.text
    assert "times" not in declared.json()
    assert "remaining" not in declared.json()
    session = await caller.new_session()
    for _ in range(5):
        assert_forced(await caller.get(f"/v2/customer_sessions/{session['id']}"), 500, None)
    deleted = await caller.delete(f"/v2/test_helpers/faults/{declared.json()['id']}")
    assert deleted.json() == {"id": declared.json()["id"], "deleted": True}
    assert (await caller.get(f"/v2/customer_sessions/{session['id']}")).status_code == 200


async def test_faults_apply_only_to_the_declaring_partners_requests(
    caller: Caller, intruder: Caller
) -> None:
    await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "listCustomers", "status": 503, "until_deleted": True},
    )
    assert (await intruder.get("/v2/customers")).status_code == 200
    assert (await caller.get("/v2/customers")).status_code == 503
    # Its exchange faults too: the secret's session decides whose fault it is.
    await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "exchangeClientSecret", "status": 429},
    )
    h = caller.harness
    theirs = (await intruder.new_session())["client_secret"]
    ours = (await caller.new_session())["client_secret"]
    assert (
        await h.client.post("/v2/client/exchange", json={"client_secret": theirs})
    ).status_code == 200
    forced = await h.client.post("/v2/client/exchange", json={"client_secret": ours})
    assert_forced(forced, 429, 1)
    # The forced error spent nothing: the secret still works, once.
    again = await h.client.post("/v2/client/exchange", json={"client_secret": ours})
    assert again.status_code == 200, again.text


async def test_the_header_wins_over_a_declared_fault_which_is_then_not_used(
    caller: Caller,
) -> None:
    await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "listWebhookEndpoints", "status": 500},
    )
    headed = await caller.get("/v2/webhook_endpoints", headers={FAULT: "status=429"})
    assert_forced(headed, 429, 1)
    assert_forced(await caller.get("/v2/webhook_endpoints"), 500, None)
    assert (await caller.get("/v2/webhook_endpoints")).status_code == 200


async def test_a_client_api_operation_is_faulted_for_the_sessions_partner(
    caller: Caller,
) -> None:
    h = caller.harness
    secret = (await caller.new_session())["client_secret"]
    token = (await h.client.post("/v2/client/exchange", json={"client_secret": secret})).json()[
        "access_token"
    ]
    await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "getClientProfile", "status": 503, "retry_after": 9},
    )
    assert (await h.client.get("/v2/client/session", headers=bearer(token))).status_code == 200
    assert_forced(await h.client.get("/v2/client/profile", headers=bearer(token)), 503, 9)
    assert (await h.client.get("/v2/client/profile", headers=bearer(token))).status_code == 200


async def test_the_test_helpers_themselves_are_never_faulted(caller: Caller) -> None:
    listed = await caller.get("/v2/test_helpers/faults", headers={FAULT: "status=500"})
    assert listed.status_code == 200
    assert listed.json() == {"data": [], "has_more": False, "total": 0}


async def test_concurrent_requests_on_two_apps_use_a_fault_exactly_as_often_as_declared(
    settings: Settings, clock: ManualClock, caller: Caller
) -> None:
    """Two apps (two processes' worth of state: each its own pool and fault index) on one
    database race for a fault with 5 uses: exactly 5 requests get it."""
    declared = await caller.post(
        "/v2/test_helpers/faults",
        {"kind": "error", "operation": "listCustomerSessions", "status": 503, "times": 5},
    )
    assert declared.status_code == 200
    customer_id = await caller.new_customer()
    url = f"/v2/customers/{customer_id}/customer_sessions"
    h = caller.harness
    async with other_app(settings, clock) as second:
        clients = [h.client, second] * 15
        answers = await asyncio.gather(*(c.get(url, auth=caller.auth) for c in clients))
    statuses = sorted(response.status_code for response in answers)
    assert statuses == [200] * 25 + [503] * 5
    (listed,) = (await caller.get("/v2/test_helpers/faults")).json()["data"]
    assert listed["remaining"] == 0


async def test_a_fault_declared_through_another_process_applies_within_a_second(
    settings: Settings, clock: ManualClock, new_caller: NewCaller
) -> None:
    caller = await new_caller()
    h = caller.harness
    # This app has just looked (an empty index, fresh for a second).
    assert (await caller.get("/v2/customers")).status_code == 200
    async with other_app(settings, clock) as elsewhere:
        declared = await elsewhere.post(
            "/v2/test_helpers/faults",
            json={"kind": "error", "operation": "listCustomers", "status": 503},
            auth=caller.auth,
        )
        assert declared.status_code == 200
    started = time.monotonic()
    while (response := await h.client.get("/v2/customers", auth=caller.auth)).status_code == 200:
        assert time.monotonic() - started < 1.5, "the fault was not seen within a second"
        await asyncio.sleep(0.05)
    assert_forced(response, 503, 1)
