"""CORS on the client API: the service's own origin, the partner's origins, nothing else."""

from __future__ import annotations

import httpx

from client_api.flow import bearer, client_token, new_partner_with_origins, new_session
from conftest import Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
}


async def preflight(h: Harness, origin: str, path: str = "/v2/client/profile") -> object:
    return await h.client.options(path, headers={"Origin": origin, **PREFLIGHT})


async def test_preflight_from_a_partner_origin_is_allowed(harness: Harness) -> None:
    await new_partner_with_origins(harness, ["https://shop.example"])
    response = await preflight(harness, "https://shop.example")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == (
        "authorization, content-type, idempotency-key, request-id, imprint-test-fault"
    )
    assert response.headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_an_unknown_origin_is_403(harness: Harness) -> None:
    response = await preflight(harness, "https://evil.example")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"
    body = response.json()
    assert body["status"] == 403
    assert body["details"] == ["origin: is not allowed to call the client API"]


async def test_preflight_from_localhost_is_allowed_in_the_sandbox(harness: Harness) -> None:
    for origin in ("http://localhost:3000", "http://127.0.0.1:8080"):
        response = await preflight(harness, origin)
        assert response.status_code == 204, origin
        assert response.headers["access-control-allow-origin"] == origin


async def test_localhost_is_refused_in_production(harness: Harness) -> None:
    from imprint_sessions.domain.origins import OriginPolicy

    harness.services.origin_policy = OriginPolicy(sandbox=False, public_origin=None)
    response = await preflight(harness, "http://localhost:3000")
    assert response.status_code == 403


async def test_service_own_origin_is_allowed(harness: Harness) -> None:
    response = await preflight(harness, "http://testserver")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://testserver"


async def test_configured_public_url_is_the_own_origin(harness: Harness) -> None:
    from imprint_sessions.domain.origins import OriginPolicy

    harness.services.origin_policy = OriginPolicy(
        sandbox=False, public_origin="https://pay.imprint.example"
    )
    assert (await preflight(harness, "https://pay.imprint.example")).status_code == 204
    assert (await preflight(harness, "http://testserver")).status_code == 403


async def test_request_is_readable_only_from_its_own_partners_origins(harness: Harness) -> None:
    _, key = await new_partner_with_origins(harness, ["https://shop.example"])
    await new_partner_with_origins(harness, ["https://other.example"])
    token = await client_token(harness, key)
    own = await harness.client.get(
        "/v2/client/session", headers={**bearer(token), "Origin": "https://shop.example"}
    )
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == "https://shop.example"
    assert own.headers["vary"] == "Origin"
    foreign = await harness.client.get(
        "/v2/client/session", headers={**bearer(token), "Origin": "https://other.example"}
    )
    assert "access-control-allow-origin" not in foreign.headers
    assert foreign.headers["vary"] == "Origin"


async def test_exchange_from_a_partner_origin_is_readable(harness: Harness) -> None:
    _, key = await new_partner_with_origins(harness, ["https://shop.example:8443"])
    session = await new_session(harness, key)
    response = await harness.client.post(
        "/v2/client/exchange",
        json={"client_secret": session["client_secret"]},
        headers={"Origin": "https://shop.example:8443"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example:8443"


async def test_errors_carry_cors_headers_too(harness: Harness) -> None:
    await new_partner_with_origins(harness, ["https://shop.example"])
    response = await harness.client.post(
        "/v2/client/exchange",
        json={"client_secret": "x"},
        headers={"Origin": "https://shop.example"},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://shop.example"


async def test_partner_api_has_no_cors(harness: Harness) -> None:
    await new_partner_with_origins(harness, ["https://shop.example"])
    response = await harness.client.options(
        "/v2/customer_sessions", headers={"Origin": "https://shop.example", **PREFLIGHT}
    )
    assert "access-control-allow-origin" not in response.headers


async def test_null_origin_is_never_allowed(harness: Harness) -> None:
    assert (await preflight(harness, "null")).status_code == 403


async def test_only_the_sandbox_allows_the_test_fault_header(
    settings: Settings, clock: ManualClock
) -> None:
    app = create_app(settings.model_copy(update={"env": "production"}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.options(
                "/v2/client/profile", headers={"Origin": "http://testserver", **PREFLIGHT}
            )
    assert response.status_code == 204
    assert response.headers["access-control-allow-headers"] == (
        "authorization, content-type, idempotency-key, request-id"
    )
