"""``partners create --origin``: validated, stored, and honoured by the client API's CORS."""

from __future__ import annotations

import json

import httpx

from e2e.conftest import Deployment, cli


def test_partner_origins_are_stored_and_allow_that_origins_preflight(
    deployment: Deployment,
) -> None:
    server = deployment.start()
    created = cli(
        deployment.env,
        "partners",
        "create",
        "--name",
        "Shop",
        "--origin",
        "HTTPS://Shop.Example:443",
        "--origin",
        "http://localhost:3000",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["allowed_origins"] == [
        "https://shop.example",
        "http://localhost:3000",
    ]
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    allowed = httpx.options(f"{server.base_url}/v2/client/exchange", headers=headers)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    refused = httpx.options(
        f"{server.base_url}/v2/client/exchange",
        headers={**headers, "Origin": "https://elsewhere.example"},
    )
    assert refused.status_code == 403


def test_an_origin_with_a_path_is_refused(deployment: Deployment) -> None:
    result = cli(
        deployment.env, "partners", "create", "--name", "Shop", "--origin", "https://a.example/x"
    )
    assert result.returncode == 2
    assert "allowed_origins" in result.stderr
