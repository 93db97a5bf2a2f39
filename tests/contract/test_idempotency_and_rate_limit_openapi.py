"""The served OpenAPI documents Idempotency-Key on every partner POST, and 429 everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key="contract-test-master-key-" + "k" * 15,  # type: ignore[arg-type]
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
    )
    return create_app(settings).openapi()


def partner_operations(spec: dict[str, Any], method: str | None = None) -> list[tuple[str, Any]]:
    """The partner API's operations (``/v2/client/`` is the browser's surface)."""
    return [
        (f"{verb.upper()} {path}", operation)
        for path, operations in spec["paths"].items()
        if path.startswith("/v2/") and not path.startswith("/v2/client/")
        for verb, operation in operations.items()
        if method is None or verb == method
    ]


def idempotent_posts(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        name: operation
        for name, operation in partner_operations(spec, "post")
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }


def test_create_session_takes_an_idempotency_key(spec: dict[str, Any]) -> None:
    assert "POST /v2/customer_sessions" in idempotent_posts(spec)


def test_every_idempotent_post_documents_the_header_409_422_and_replays(
    spec: dict[str, Any],
) -> None:
    for name, operation in idempotent_posts(spec).items():
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        parameter = headers["Idempotency-Key"]
        assert parameter["required"] is False
        assert parameter["schema"] == {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[\\x20-\\x7e]{1,255}$",  # printable ASCII, as check_key enforces
            "title": "Idempotency-Key",
        }
        assert "24 hours" in parameter["description"]
        responses = operation["responses"]
        assert responses["409"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ConflictError"
        }, name
        assert responses["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/InvalidRequestError"
        }, name
        success = next(status for status in responses if status.startswith("2"))
        assert "Idempotent-Replayed" in responses[success]["headers"], name


def test_every_partner_operation_documents_429_with_retry_after(spec: dict[str, Any]) -> None:
    for name, operation in partner_operations(spec):
        too_many = operation["responses"].get("429")
        assert too_many is not None, name
        assert too_many["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/InvalidRequestError"
        }
        assert too_many["headers"]["Retry-After"]["schema"]["type"] == "integer", name
