"""Spans never carry an exception's text (it can hold what a request sent), only its type."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from imprint_sessions.observability.tracing import SqlSpans, webhook_span


def test_a_failed_statement_span_names_the_error_type_and_never_its_message() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spans = SqlSpans(provider.get_tracer("test"))
    with (
        pytest.raises(ValueError, match=r"customer@example\.com"),
        spans("INSERT postgresql", {"db.system": "postgresql"}),
    ):
        raise ValueError("Key (email)=(customer@example.com) already exists")
    with (
        pytest.raises(RuntimeError),
        webhook_span(provider.get_tracer("test"), endpoint_id="E", event_id="V"),
    ):
        raise RuntimeError("https://user:password@hooks.example")
    (sql, hook) = exporter.get_finished_spans()
    assert sql.status.status_code == StatusCode.ERROR
    assert dict(sql.attributes or {})["error.type"] == "ValueError"
    for span in (sql, hook):
        assert not span.events  # no recorded exception, no traceback
        assert not span.status.description
        text = repr(span.to_json())
        assert "customer@example.com" not in text
        assert "password" not in text


def test_no_tracer_no_span() -> None:
    with webhook_span(None, endpoint_id="E", event_id="V") as span:
        assert span is None
