"""Webhook delivery in the metrics and traces (SQLite and PostgreSQL): attempts, failures and
latency by endpoint id (never its URL), the outbox gauges from the database, a span per attempt."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import Harness
from imprint_sessions.clock import ManualClock
from integration.test_metrics import delta, scrape, value
from webhook_receiver import Reply, receiving
from webhooks.conftest import Hooks


async def test_attempts_failures_and_latency_are_counted_by_endpoint_id(
    hooks: Hooks, harness: Harness
) -> None:
    with receiving() as good, receiving(lambda body, headers: Reply(status=500)) as bad:
        good_id, _ = await hooks.register(good.url + "/hook?token=in-the-url")
        bad_id, _ = await hooks.register(bad.url)
        before = await scrape(harness.client)
        await hooks.emit(2)
        await hooks.worker().drain()
    text = (await harness.client.get("/metrics")).text
    assert good.url not in text
    assert "in-the-url" not in text
    after = await scrape(harness.client)
    attempts, failures = (
        "imprint_webhook_delivery_attempts_total",
        "imprint_webhook_delivery_failures_total",
    )
    assert delta(before, after, attempts, endpoint_id=good_id) == 2
    assert delta(before, after, failures, endpoint_id=good_id) == 0
    assert delta(before, after, attempts, endpoint_id=bad_id) == 2
    assert delta(before, after, failures, endpoint_id=bad_id) == 2
    duration = "imprint_webhook_delivery_duration_seconds_count"
    assert delta(before, after, duration, endpoint_id=bad_id) == 2


async def test_the_outbox_gauges_count_pending_deliveries_and_the_oldest_ones_age(
    hooks: Hooks, harness: Harness, clock: ManualClock
) -> None:
    # On PostgreSQL earlier tests' deliveries may still wait in the shared outbox: deltas.
    base = value(await scrape(harness.client), "imprint_webhook_outbox_depth")

    async def depth() -> float:
        return value(await scrape(harness.client), "imprint_webhook_outbox_depth") - base

    with receiving() as fine, receiving(lambda body, headers: Reply(status=503)) as failing:
        await hooks.register(fine.url)
        await hooks.emit(1)
        assert await depth() == 1
        await hooks.worker().drain()  # delivered: it leaves the outbox
        assert await depth() == 0
        await hooks.register(failing.url)
        await hooks.emit(3)  # 3 to each endpoint
        clock.advance(seconds=90)
        waiting = await scrape(harness.client)
        assert value(waiting, "imprint_webhook_outbox_depth") - base == 6
        assert value(waiting, "imprint_webhook_outbox_oldest_age_seconds") >= 90
        await hooks.worker().drain()  # the failing endpoint's are retried later: still waiting
        assert await depth() == 3
    if not base:  # nothing older in the outbox: the oldest is one of these
        assert value(waiting, "imprint_webhook_outbox_oldest_age_seconds") == 90


async def test_an_empty_outbox_reports_zero_depth_and_age(harness: Harness) -> None:
    samples = await scrape(harness.client)
    if value(samples, "imprint_webhook_outbox_depth") == 0:
        assert value(samples, "imprint_webhook_outbox_oldest_age_seconds") == 0
    else:  # PostgreSQL's shared outbox holds earlier tests' deliveries
        assert value(samples, "imprint_webhook_outbox_oldest_age_seconds") > 0


async def test_each_attempt_is_a_span_naming_its_endpoint(hooks: Hooks) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        await hooks.worker(tracer=provider.get_tracer("test")).drain()
    # PostgreSQL's shared outbox may hold earlier tests' retries, due by now: this endpoint's.
    spans = [s for s in exporter.get_finished_spans() if s.name == "webhook delivery"]
    assert spans
    (span,) = [
        s for s in spans if (s.attributes or {}).get("imprint.webhook.endpoint_id") == endpoint_id
    ]
    attributes = dict(span.attributes or {})
    assert attributes["imprint.webhook.endpoint_id"] == endpoint_id
    assert attributes["imprint.webhook.event_id"] == event_id
    assert attributes["http.response.status_code"] == 200
