"""Overload, on SQLite and PostgreSQL: a process works on at most IMPRINT_MAX_IN_FLIGHT requests
at once, one more waits up to IMPRINT_MAX_QUEUE_SECONDS for a place and is then answered 503
with Retry-After in the documented shape, having changed nothing; and the requests of one API
key that miss the key cache together share one lookup (BENCHMARKS.md, "Overload")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from conftest import DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners

URL = "/v2/customer_sessions"
PLACES = 2
HOLD = {"Imprint-Test-Fault": "delay_ms=2000"}  # keeps a request in flight for 2 s


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_in_flight": PLACES, "max_queue_seconds": 0.2})


def shed_total(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "imprint_shed_requests_total":
                return sample.value
    raise AssertionError("no imprint_shed_requests_total")


async def test_past_the_places_and_the_wait_a_request_is_503_with_retry_after_and_changes_nothing(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    client = harness.client
    shed_before = shed_total((await client.get("/metrics")).text)
    held = [
        asyncio.create_task(
            client.post(
                URL, json={"partner_customer_id": f"HELD_{i}"}, auth=(key, ""), headers=HOLD
            )
        )
        for i in range(PLACES)
    ]
    await asyncio.sleep(0.3)  # both are in flight, sleeping in their fault's delay
    started = time.monotonic()
    refused = await client.post(URL, json={"partner_customer_id": "REFUSED"}, auth=(key, ""))
    waited = time.monotonic() - started
    assert refused.status_code == 503  # (not its body in the message: a 200 carries a secret)
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["request-id"].startswith("req_")
    body = refused.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert (body["path"], body["status"], body["error"]) == (URL, 503, "Service Unavailable")
    assert body["details"] == ["server: too busy to take this request now, retry shortly"]
    # It waited its 0.2 s for a place, not the 1.7 s until the held requests finish.
    assert 0.2 <= waited < 1.2
    # Liveness and the metrics answer however busy the process is.
    assert (await client.get("/healthz")).status_code == 200
    assert shed_total((await client.get("/metrics")).text) == shed_before + 1
    assert [r.status_code for r in await asyncio.gather(*held)] == [200] * PLACES
    assert inspector.count("customer_sessions", partner_id) == PLACES  # the 503 wrote nothing
    # The places are free again.
    again = await client.post(URL, json={"partner_customer_id": "AFTER"}, auth=(key, ""))
    assert again.status_code == 200


@dataclass
class Served:
    client: httpx.AsyncClient
    api_key: str


@asynccontextmanager
async def serving(
    settings: Settings, clock: ManualClock, exporter: InMemorySpanExporter | None = None
) -> AsyncIterator[Served]:
    """The app on ``settings``, a partner and a key of it, and a client."""
    app = create_app(settings, clock=clock, span_exporter=exporter)
    async with app.router.lifespan_context(app):
        services = app.state.services
        repos = services.database.repositories
        partner = await partners.create_partner(repos, clock=clock, name="p", merchant_keys=[])
        issued = await partners.create_api_key(
            repos, clock=clock, box=services.box, env=settings.env, partner_id=partner.id
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Served(client, issued.api_key)


async def test_a_request_that_finds_every_place_taken_is_served_when_one_frees_up_in_order(
    settings: Settings, clock: ManualClock
) -> None:
    async with serving(settings.model_copy(update={"max_queue_seconds": 5.0}), clock) as served:
        await _two_rounds(served)


async def _two_rounds(served: Served) -> None:
    # The later requests are the quicker: run at once, they would finish first.
    slow, quick = {"Imprint-Test-Fault": "delay_ms=300"}, {"Imprint-Test-Fault": "delay_ms=50"}
    finished: list[str] = []

    async def create(name: str, headers: dict[str, str]) -> int:
        response = await served.client.post(
            URL, json={"partner_customer_id": name}, auth=(served.api_key, ""), headers=headers
        )
        finished.append(name)
        return response.status_code

    started = time.monotonic()
    held = [asyncio.create_task(create(f"HELD_{i}", slow)) for i in range(PLACES)]
    await asyncio.sleep(0.1)
    waiting = [asyncio.create_task(create(f"WAITING_{i}", quick)) for i in range(PLACES)]
    statuses = await asyncio.gather(*held, *waiting)
    assert statuses == [200] * (2 * PLACES)  # none refused: each waited for a place
    # Never more than 2 at once: the quick ones ran only once the slow ones were done.
    assert set(finished[:PLACES]) == {f"HELD_{i}" for i in range(PLACES)}
    assert time.monotonic() - started >= 0.35


async def test_requests_that_miss_the_key_cache_together_share_one_lookup(
    settings: Settings, clock: ManualClock
) -> None:
    """Regression: each time a busy key's one-second cache entry expired, every request in
    flight looked the key up itself, and hundreds queued for the pool at once."""
    exporter = InMemorySpanExporter()
    roomy = settings.model_copy(update={"max_in_flight": 128})
    async with serving(roomy, clock, exporter) as served:
        exporter.clear()
        responses = await asyncio.gather(
            *(served.client.get(f"{URL}/NOPE_{i}", auth=(served.api_key, "")) for i in range(30))
        )
    assert [r.status_code for r in responses] == [404] * 30  # every one authenticated
    lookups = [
        s
        for s in exporter.get_finished_spans()
        if s.kind == SpanKind.CLIENT
        and "api_keys" in str(dict(s.attributes or {})["db.query.text"])
    ]
    assert len(lookups) == 1, [dict(s.attributes or {})["db.query.text"] for s in lookups]
