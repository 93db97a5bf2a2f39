"""Tracing (OpenTelemetry, the SDK's in-memory exporter) on SQLite and PostgreSQL: a span per
request with its request id, SQL statements as its children; off by default, nothing wrapped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from conftest import Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners
from imprint_sessions.observability.tracing import REQUEST_ID_ATTRIBUTE, TracingMiddleware
from imprint_sessions.storage.traced import TracedRunner
from webhook_receiver import receiving


@dataclass
class Traced:
    client: httpx.AsyncClient
    spans: InMemorySpanExporter
    api_key: str


@pytest.fixture
async def traced(settings: Settings, clock: ManualClock) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    app = create_app(settings, clock=clock, span_exporter=exporter)
    async with app.router.lifespan_context(app):
        services = app.state.services
        partner = await partners.create_partner(
            services.database.repositories, clock=clock, name="traced", merchant_keys=[]
        )
        issued = await partners.create_api_key(
            services.database.repositories,
            clock=clock,
            box=services.box,
            env=settings.env,
            partner_id=partner.id,
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            exporter.clear()
            yield Traced(client, exporter, issued.api_key)


async def test_a_request_is_a_span_with_its_request_id_and_its_sql_as_children(
    traced: Traced, leak_registry: object
) -> None:
    response = await traced.client.post(
        "/v2/customer_sessions",
        json={"partner_customer_id": "CUST_TRACED"},
        auth=(traced.api_key, ""),
        headers={"request-id": "req-traced-1"},
    )
    assert response.status_code == 200
    spans = traced.spans.get_finished_spans()
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.name == "POST /v2/customer_sessions"
    attributes = dict(server.attributes or {})
    assert attributes[REQUEST_ID_ATTRIBUTE] == "req-traced-1" == response.headers["request-id"]
    assert attributes["http.route"] == "/v2/customer_sessions"
    assert attributes["http.response.status_code"] == 200
    sql = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert sql, [s.name for s in spans]
    for span in sql:
        assert span.parent is not None
        assert span.parent.span_id == server.context.span_id
        assert span.context.trace_id == server.context.trace_id
        assert dict(span.attributes or {})["db.system"] in ("postgresql", "sqlite")
    # Statements bind every value: no customer id, no key, in the recorded text.
    texts = " ".join(str(dict(s.attributes or {})["db.query.text"]) for s in sql)
    assert "CUST_TRACED" not in texts
    assert traced.api_key not in texts


async def test_a_routed_request_names_its_route_template_and_an_error_status(
    traced: Traced,
) -> None:
    await traced.client.get("/v2/customers/NOPE", auth=(traced.api_key, ""))
    (server,) = [s for s in traced.spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.name == "GET /v2/customers/{customer_id}"
    assert dict(server.attributes or {})["http.response.status_code"] == 404
    assert dict(server.attributes or {})["url.path"] == "/v2/customers/NOPE"


async def test_tracing_is_off_by_default_and_nothing_is_wrapped(harness: Harness) -> None:
    assert harness.services.settings.otel_exporter_otlp_endpoint is None
    layer = harness.app.middleware_stack
    seen = []
    while layer is not None:
        seen.append(type(layer))
        layer = getattr(layer, "app", None)
    assert TracingMiddleware not in seen
    runner = harness.services.database.repositories._db
    assert not isinstance(runner, TracedRunner)


def test_a_non_http_otlp_endpoint_is_refused_naming_the_fix(settings: Settings) -> None:
    with pytest.raises(ValueError, match="must be an http"):
        Settings.model_validate(
            {**settings.model_dump(), "otel_exporter_otlp_endpoint": "collector:4317"}
        )


async def test_with_an_otlp_endpoint_spans_are_posted_to_it_over_http(
    settings: Settings, clock: ManualClock
) -> None:
    """The production path: the OTLP/HTTP exporter, batched, flushed when the app stops."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    with receiving() as collector:
        configured = settings.model_copy(
            update={"otel_exporter_otlp_endpoint": f"{collector.url}/v1/traces"}
        )
        app = create_app(configured, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/healthz", headers={"request-id": "req-otlp-1"})
                assert response.status_code == 200
        posts = [r for r in collector.received if r.path.endswith("/v1/traces")]
    assert posts, collector.received
    assert posts[0].headers["content-type"] == "application/x-protobuf"
    names, request_ids = set(), set()
    for post in posts:
        exported = ExportTraceServiceRequest.FromString(post.body)
        for resource_spans in exported.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
                "service.name"
            ]
            assert service == "imprint-sessions"
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    names.add(span.name)
                    request_ids |= {
                        a.value.string_value
                        for a in span.attributes
                        if a.key == REQUEST_ID_ATTRIBUTE
                    }
    assert "GET /healthz" in names
    assert "req-otlp-1" in request_ids


FASTAPI_TELEMETRY_PROBE = """
import asyncio, sys
import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # a global provider, as an instrumented host might set

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

app = create_app(Settings(env="sandbox", data_dir=sys.argv[1], secret_key="k" * 64))

async def main() -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200

asyncio.run(main())
print("SPANS", len(exporter.get_finished_spans()))
"""


def test_fastapis_own_telemetry_stays_off_even_with_a_global_tracer_provider(
    tmp_path: Path,
) -> None:
    """Regression: FastAPI's native telemetry looked the global providers up in os.environ on
    every request, and with one configured would have traced (and exported exception messages)
    past the service's own redacted tracing. In a fresh process: the global provider set there
    must receive no span from FastAPI."""
    probe = subprocess.run(
        [sys.executable, "-c", FASTAPI_TELEMETRY_PROBE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert "SPANS 0" in probe.stdout, probe.stdout + probe.stderr
