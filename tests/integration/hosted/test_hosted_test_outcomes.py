"""The hosted page's sandbox test outcomes: ``/start?test_outcome=...`` or a ``hosted_outcome``
fault the partner declared tells the page (its config) which state this start must end with;
a declared one is used once per start. Production ignores both. (What the page then reports,
in a real browser: tests/e2e/test_browser.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import Harness
from hosted.test_hosted_pages import client_secret, page_config
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.faults import OUTCOMES


@pytest.fixture
async def production(settings: Settings, clock: ManualClock) -> AsyncIterator[Harness]:
    app = create_app(settings.model_copy(update={"env": "production"}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app=app, client=client, services=app.state.services)


async def start(harness: Harness, secret: str, **params: str) -> httpx.Response:
    return await harness.client.get("/start", params={"client_secret": secret, **params})


async def test_each_documented_outcome_reaches_the_page_from_the_query(harness: Harness) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    assert OUTCOMES == (
        "IN_PROGRESS",
        "ERROR:INVALID_CLIENT_SECRET",
        "ERROR:NETWORK_CONNECTION_FAILED",
        "ERROR:SERVER_ERROR",
        "ERROR:TIMEOUT_ERROR",
        "ERROR:UNKNOWN_ERROR",
    )
    for outcome in OUTCOMES:
        page = await start(harness, secret, test_outcome=outcome)
        assert page.status_code == 200
        assert page_config(page.text)["testOutcome"] == outcome
    assert page_config((await start(harness, secret)).text)["testOutcome"] is None


@pytest.mark.parametrize("outcome", ["ERROR", "ERROR:", "ERROR:OOPS", "in_progress", "CLOSED"])
async def test_an_unknown_outcome_is_a_400_naming_the_parameter(
    harness: Harness, outcome: str
) -> None:
    _, key = await harness.new_partner()
    page = await start(harness, await client_secret(harness, key), test_outcome=outcome)
    assert page.status_code == 400
    (detail,) = page.json()["details"]
    assert detail.startswith("test_outcome: must be IN_PROGRESS or ERROR:<code>")


async def test_a_declared_outcome_ends_the_next_starts_of_that_partner_only(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    _, other_key = await harness.new_partner()
    declared = await harness.client.post(
        "/v2/test_helpers/faults",
        json={"kind": "hosted_outcome", "outcome": "ERROR:SERVER_ERROR", "times": 2},
        auth=(key, ""),
    )
    assert declared.status_code == 200, declared.text
    theirs = await start(harness, await client_secret(harness, other_key))
    assert page_config(theirs.text)["testOutcome"] is None
    secret = await client_secret(harness, key)
    # The query wins and uses nothing up.
    queried = await start(harness, secret, test_outcome="IN_PROGRESS")
    assert page_config(queried.text)["testOutcome"] == "IN_PROGRESS"
    outcomes = [page_config((await start(harness, secret)).text)["testOutcome"] for _ in range(3)]
    assert outcomes == ["ERROR:SERVER_ERROR", "ERROR:SERVER_ERROR", None]
    # A forged secret names no partner: nothing is used.
    forged = await start(harness, "ics_00000000_" + "A" * 64)
    assert page_config(forged.text)["testOutcome"] is None


async def test_production_ignores_the_query_and_declared_outcomes(
    harness: Harness, production: Harness
) -> None:
    _, key = await harness.new_partner()
    declared = await harness.client.post(
        "/v2/test_helpers/faults",
        json={"kind": "hosted_outcome", "outcome": "IN_PROGRESS"},
        auth=(key, ""),
    )
    assert declared.status_code == 200
    secret = await client_secret(harness, key)
    for params in ({"test_outcome": "ERROR:TIMEOUT_ERROR"}, {"test_outcome": "nonsense"}, {}):
        page = await start(production, secret, **params)
        assert page.status_code == 200
        assert page_config(page.text)["testOutcome"] is None
    listed = await harness.client.get("/v2/test_helpers/faults", auth=(key, ""))
    assert listed.json()["data"][0]["remaining"] == 1
