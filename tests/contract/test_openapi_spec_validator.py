"""The served OpenAPI is a valid OpenAPI 3.1 document, as openapi-spec-validator judges it."""

from __future__ import annotations

from pathlib import Path

import httpx
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

SECRET_KEY = "contract-test-master-key-" + "v" * 15


async def test_served_openapi_passes_openapi_spec_validator(tmp_path: Path) -> None:
    settings = Settings(
        env="sandbox",
        data_dir=tmp_path / "data",
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    try:
        validate(spec)
    except OpenAPIValidationError as exc:  # the message names the offending path
        raise AssertionError(f"the served OpenAPI is not valid: {exc}") from exc
