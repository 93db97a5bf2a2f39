"""A 405 names every method the path serves (``Allow``), as the served spec lists them."""

from __future__ import annotations

import pytest

from conftest import Harness


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v2/customers", "GET, POST"),
        ("OPTIONS", "/v2/keys", "DELETE, POST"),
        ("DELETE", "/v2/webhook_endpoints", "GET, POST"),
        ("PATCH", "/v2/customers/ABC", "GET, POST"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    harness: Harness, method: str, path: str, allowed: str
) -> None:
    # Schemathesis found "Allow: POST" on /v2/keys, which DELETE also serves: Starlette names
    # the first route's methods only.
    response = await harness.client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    spec = (await harness.client.get("/openapi.json")).json()
    template = path if path in spec["paths"] else "/v2/customers/{customer_id}"
    assert allowed == ", ".join(sorted(m.upper() for m in spec["paths"][template]))
    assert response.json()["details"] == ["path: method not allowed"]
