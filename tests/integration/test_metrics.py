"""``/metrics`` over the app and a real database (SQLite and PostgreSQL): what each family counts,
bounded labels, the outbox gauges, and who may read it (sandbox open; production: the token)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import TEST_SECRET_KEY, Harness, LeakRegistry
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.observability.metrics import CONTENT_TYPE

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def requests_of(samples: Samples, route: str, method: str, status: int) -> float:
    return value(
        samples,
        "imprint_http_request_duration_seconds_count",
        route=route,
        method=method,
        status=str(status),
    )


async def test_the_hot_paths_count_sessions_exchanges_refusals_by_reason_and_requests_by_route(
    harness: Harness, clock: ManualClock
) -> None:
    client = harness.client
    _, api_key = await harness.new_partner()
    auth = (api_key, "")
    before = await scrape(client)

    created = (await client.post("/v2/customer_sessions", json={}, auth=auth)).json()
    session_id, secret = created["id"], created["client_secret"]
    assert (await client.get(f"/v2/customer_sessions/{session_id}", auth=auth)).status_code == 200
    exchange = {"client_secret": secret}
    assert (await client.post("/v2/client/exchange", json=exchange)).status_code == 200
    assert (await client.post("/v2/client/exchange", json=exchange)).status_code == 401
    forged = {"client_secret": secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")}
    assert (await client.post("/v2/client/exchange", json=forged)).status_code == 401
    other = (await client.post("/v2/customer_sessions", json={}, auth=auth)).json()
    expire = f"/v2/customer_sessions/{other['id']}/expire"
    assert (await client.post(expire, auth=auth)).status_code == 200
    clock.advance(ms=1)
    assert (await client.post(expire, auth=auth)).status_code == 200  # already ended: not again
    revoked = {"client_secret": other["client_secret"]}
    assert (await client.post("/v2/client/exchange", json=revoked)).status_code == 401

    after = await scrape(client)
    assert delta(before, after, "imprint_customer_sessions_created_total") == 2
    assert delta(before, after, "imprint_customer_sessions_exchanged_total") == 1
    assert delta(before, after, "imprint_customer_sessions_expired_total") == 1
    refusals = "imprint_exchange_refusals_total"
    assert delta(before, after, refusals, reason="already_used") == 1
    assert delta(before, after, refusals, reason="invalid") == 1
    assert delta(before, after, refusals, reason="revoked") == 1
    assert delta(before, after, refusals, reason="expired") == 0
    # By route template, hot paths (served past FastAPI's router) and routed requests alike.
    for route, method, status, count in [
        ("/v2/customer_sessions", "POST", 200, 2),
        ("/v2/customer_sessions/{session_id}", "GET", 200, 1),
        ("/v2/client/exchange", "POST", 200, 1),
        ("/v2/client/exchange", "POST", 401, 3),
        ("/v2/customer_sessions/{session_id}/expire", "POST", 200, 2),
    ]:
        was = requests_of(before, route, method, status)
        assert requests_of(after, route, method, status) - was == count, (route, method, status)
    # Every family is there, with its help text, from the first scrape on.
    names = {name for name, _ in after}
    assert "imprint_db_pool_wait_seconds_count" in names
    assert "imprint_webhook_outbox_depth" in names
    assert value(after, "imprint_db_pool_wait_seconds_count") > value(
        before, "imprint_db_pool_wait_seconds_count"
    )


async def test_an_expiry_repeated_in_the_same_millisecond_is_counted_once(
    harness: Harness, clock: ManualClock
) -> None:
    # Regression: "ended by this call" was guessed from revoked_at >= the time before the call,
    # so a repeat within one millisecond (or under a frozen clock) counted a second expiry. The
    # store now says whether its UPDATE revoked the session.
    client = harness.client
    _, api_key = await harness.new_partner()
    auth = (api_key, "")
    session = (await client.post("/v2/customer_sessions", json={}, auth=auth)).json()
    before = await scrape(client)
    for _ in range(3):  # the clock does not move
        expire = f"/v2/customer_sessions/{session['id']}/expire"
        assert (await client.post(expire, auth=auth)).status_code == 200
    after = await scrape(client)
    assert delta(before, after, "imprint_customer_sessions_expired_total") == 1


async def test_route_labels_are_templates_never_raw_paths_or_ids(harness: Harness) -> None:
    client = harness.client
    _, api_key = await harness.new_partner()
    marker = "X" + secrets.token_hex(8).upper()
    for path in (
        f"/v2/customers/{marker}",
        f"/v2/customer_sessions/{marker}",
        f"/v2/no/such/{marker}",
        f"/{marker}",
    ):
        await client.get(path, auth=(api_key, ""))
    await client.request("BREW", f"/{marker}")
    text = (await client.get("/metrics")).text
    assert marker not in text
    samples = parse(text)
    labels = {
        dict(key)["route"]
        for (name, key) in samples
        if name == "imprint_http_request_duration_seconds_count"
    }
    assert "/v2/customers/{customer_id}" in labels
    assert "/v2/customer_sessions/{session_id}" in labels
    assert "unmatched" in labels
    methods = {
        dict(key)["method"]
        for (name, key) in samples
        if name == "imprint_http_request_duration_seconds_count"
    }
    assert "BREW" not in methods
    assert "OTHER" in methods


# -- who may read it ------------------------------------------------------------------------------
@pytest.fixture
async def production_client(
    settings: Settings, clock: ManualClock, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    token: str | None = request.param
    configured = settings.model_copy(
        update={
            "env": "production",
            "secret_key": settings.secret_key or TEST_SECRET_KEY,
            "metrics_token": token,
        }
    )
    configured = Settings.model_validate(configured.model_dump())  # the validators run
    app = create_app(configured, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


TOKEN = "mt_" + secrets.token_urlsafe(32)


@pytest.mark.parametrize("production_client", [None], indirect=True, ids=["no-token"])
async def test_production_without_a_token_has_no_metrics_endpoint(
    production_client: httpx.AsyncClient,
) -> None:
    assert (await production_client.get("/metrics")).status_code == 404
    spec = (await production_client.get("/openapi.json")).json()
    assert "/metrics" not in spec["paths"]


# ids: the token itself must never be in a test id (xdist compares them; logs show them).
@pytest.mark.parametrize("production_client", [TOKEN], indirect=True, ids=["token"])
async def test_production_metrics_need_the_bearer_token(
    production_client: httpx.AsyncClient, leak_registry: LeakRegistry
) -> None:
    leak_registry.remember(TOKEN)
    assert (await production_client.get("/metrics")).status_code == 401
    wrong = {"authorization": "Bearer " + TOKEN[:-1] + ("a" if TOKEN[-1] != "a" else "b")}
    refused = await production_client.get("/metrics", headers=wrong)
    assert refused.status_code == 401
    assert refused.json()["details"] == ["authorization: the metrics bearer token is required"]
    basic = await production_client.get("/metrics", auth=(TOKEN, ""))
    assert basic.status_code == 401
    ok = await production_client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert "imprint_http_request_duration_seconds" in ok.text
    operation = (await production_client.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert operation["security"] == [{"metricsToken": []}]
    assert set(operation["responses"]) == {"200", "401"}


def test_a_short_metrics_token_is_refused_naming_the_fix(settings: Settings) -> None:
    with pytest.raises(ValueError, match="IMPRINT_METRICS_TOKEN must be at least 32 characters"):
        Settings.model_validate({**settings.model_dump(), "metrics_token": "short"})


async def test_sandbox_metrics_are_open_and_documented_as_text(harness: Harness) -> None:
    operation = (await harness.client.get("/openapi.json")).json()["paths"]["/metrics"]["get"]
    assert "security" not in operation
    assert set(operation["responses"]) == {"200"}
    assert set(operation["responses"]["200"]["content"]) == {"text/plain"}
    assert (await harness.client.get("/metrics")).status_code == 200
