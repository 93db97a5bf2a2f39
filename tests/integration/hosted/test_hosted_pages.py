"""``/start``, the SDK script and the static assets over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import _REGISTRY, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import new_id
from imprint_sessions.domain import partners
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.records import Partner

SHOP = "https://shop.example.com"


def directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(d.strip().split(" ", 1) for d in policy.split(";"))


def page_config(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="imprint-config">(.*?)</script>', html)
    assert match, html[:500]
    config: dict[str, object] = json.loads(match.group(1))
    return config


async def new_partner_with_origins(harness: Harness, origins: list[str]) -> tuple[str, str]:
    """A partner allowing ``origins``, and an API key for it."""
    partner = Partner(
        id=new_id(),
        name=f"shop {secrets.token_hex(3)}",
        merchant_keys=(),
        created_at=harness.services.clock.now_ms(),
        allowed_origins=tuple(origins),
    )
    repos = harness.services.database.repositories
    await repos.create_partner(partner)
    from imprint_sessions.domain import partners

    issued = await partners.create_api_key(
        repos,
        clock=harness.services.clock,
        box=harness.services.box,
        env=harness.services.settings.env,
        partner_id=partner.id,
    )
    _REGISTRY.remember(issued.api_key)
    return partner.id, issued.api_key


async def client_secret(harness: Harness, api_key: str) -> str:
    response = await harness.client.post("/v2/customer_sessions", json={}, auth=(api_key, ""))
    assert response.status_code == 200, response.text
    secret: str = response.json()["client_secret"]
    return secret


@pytest.fixture
async def production(settings: Settings, clock: ManualClock) -> AsyncIterator[Harness]:
    """The same database as ``harness``, served as a production deployment."""
    app = create_app(settings.model_copy(update={"env": "production"}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app=app, client=client, services=app.state.services)


async def test_start_page_has_a_strict_policy_and_no_caching(harness: Harness) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    response = await harness.client.get("/start", params={"client_secret": secret})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = directives(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert policy["base-uri"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    # The page holds no secret of its own: app.js reads it from the address bar.
    assert secret not in response.text
    assert '<meta name="viewport"' in response.text


async def test_frame_ancestors_are_the_partners_origins_in_production(
    harness: Harness, production: Harness
) -> None:
    _, key = await new_partner_with_origins(harness, [SHOP, "https://m.shop.example.com:8443"])
    secret = await client_secret(harness, key)
    response = await production.client.get("/start", params={"client_secret": secret})
    assert directives(response)["frame-ancestors"] == (
        f"'self' {SHOP} https://m.shop.example.com:8443"
    )


async def test_a_partner_without_origins_is_framed_by_self_only_in_production(
    harness: Harness, production: Harness
) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    response = await production.client.get("/start", params={"client_secret": secret})
    assert directives(response)["frame-ancestors"] == "'self'"


@pytest.mark.parametrize(
    "secret",
    [None, "", "nonsense", "ics_00000000_" + "A" * 64],
    ids=["missing", "empty", "malformed", "forged"],
)
async def test_an_unverifiable_secret_still_gets_the_page_framed_by_self(
    production: Harness, harness: Harness, secret: str | None
) -> None:
    params = {} if secret is None else {"client_secret": secret}
    response = await production.client.get("/start", params=params)
    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == "'self'"
    sandbox = await harness.client.get("/start", params=params)
    assert "http://localhost:*" in directives(sandbox)["frame-ancestors"].split()


async def test_the_sandbox_lets_localhost_frame_the_page(harness: Harness) -> None:
    _, key = await new_partner_with_origins(harness, [SHOP])
    secret = await client_secret(harness, key)
    response = await harness.client.get("/start", params={"client_secret": secret})
    sources = directives(response)["frame-ancestors"].split()
    assert {"'self'", SHOP, "http://localhost:*", "http://127.0.0.1:*"} <= set(sources)


@pytest.mark.parametrize(
    ("parent", "expected"),
    [
        (SHOP, SHOP),
        ("https://SHOP.example.com:443", SHOP),
        ("https://evil.example", None),
        ("http://localhost:3000", None),
        ("https://shop.example.com/path", None),
    ],
)
async def test_messages_go_only_to_an_allowed_parent_origin_in_production(
    harness: Harness, production: Harness, parent: str, expected: str | None
) -> None:
    _, key = await new_partner_with_origins(harness, [SHOP])
    secret = await client_secret(harness, key)
    response = await production.client.get(
        "/start", params={"client_secret": secret, "parentOrigin": parent}
    )
    assert page_config(response.text)["parentOrigin"] == expected


async def test_the_sandbox_accepts_a_localhost_parent_origin(harness: Harness) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    response = await harness.client.get(
        "/start", params={"client_secret": secret, "parentOrigin": "http://localhost:5173"}
    )
    config = page_config(response.text)
    assert config["parentOrigin"] == "http://localhost:5173"
    assert config["sandbox"] is True


async def test_the_page_is_rendered_in_the_browsers_language_with_both_languages_inside(
    harness: Harness,
) -> None:
    response = await harness.client.get("/start", headers={"accept-language": "es-MX,es;q=0.9"})
    assert '<html lang="es">' in response.text
    assert "Revisa tus datos" in response.text
    config = page_config(response.text)
    assert set(config["strings"]) == {"en", "es"}  # type: ignore[arg-type]
    english = await harness.client.get("/start")
    assert '<html lang="en">' in english.text


async def test_every_field_has_a_label(harness: Harness) -> None:
    html = (await harness.client.get("/start")).text
    ids = set(re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids, html[:300]
    assert ids <= labelled, ids - labelled


async def test_the_sandbox_code_hint_is_shown_only_in_the_sandbox(
    harness: Harness, production: Harness
) -> None:
    assert 'id="sandbox-code"' in (await harness.client.get("/start")).text
    assert 'id="sandbox-code"' not in (await production.client.get("/start")).text


async def test_the_start_page_consumes_nothing(harness: Harness) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    for _ in range(2):
        assert (await harness.client.get("/start", params={"client_secret": secret})).is_success
    exchanged = await harness.client.post("/v2/client/exchange", json={"client_secret": secret})
    assert exchanged.status_code == 200, exchanged.text
    _REGISTRY.remember(exchanged.json()["access_token"])


async def test_the_access_log_of_start_holds_no_secret(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await harness.new_partner()
    secret = await client_secret(harness, key)
    with caplog.at_level(logging.INFO, logger="imprint_sessions.access"):
        await harness.client.get(
            "/start", params={"client_secret": secret, "parentOrigin": "http://localhost:1"}
        )
    lines = [r for r in caplog.records if getattr(r, "path", None) == "/start"]
    assert len(lines) == 1
    assert lines[0].query_keys == ["client_secret", "parentOrigin"]  # type: ignore[attr-defined]
    assert secret not in caplog.text
    assert all(secret not in json.dumps(r.__dict__, default=str) for r in caplog.records)


async def test_the_sdk_script_is_served_for_any_page_to_load(harness: Harness) -> None:
    response = await harness.client.get("/sdk/imprintsdk.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age=" in response.headers["cache-control"]
    assert "startApplication" in response.text


async def test_assets_are_linked_by_hash_and_cached_for_a_year(harness: Harness) -> None:
    html = (await harness.client.get("/start")).text
    urls = re.findall(r'(?:src|href)="(/hosted/static/[^"]+)"', html)
    assert len(urls) == 2
    for url in urls:
        response = await harness.client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
    stale = await harness.client.get("/hosted/static/app.0123456789ab.js")
    assert stale.status_code == 404
    plain = await harness.client.get("/hosted/static/app.js")
    assert plain.headers["cache-control"] == "no-cache"
    assert (await harness.client.get("/hosted/static/..%2Fi18n.py")).status_code == 404


async def test_hosted_pages_are_not_in_the_api_description(harness: Harness) -> None:
    paths = (await harness.client.get("/openapi.json")).json()["paths"]
    assert not {"/start", "/demo", "/demo/session", "/sdk/imprintsdk.js"} & set(paths)


# -- the partner's logo, for the native SDKs' title bars -----------------------------------------
LOGO = "https://cdn.shop.example.com/logo.png"


async def test_the_page_carries_the_partners_logo_for_the_native_shells(harness: Harness) -> None:
    partner_id, key = await harness.new_partner()
    repos = harness.services.database.repositories
    updated = await partners.set_logo_url(repos, partner_id=partner_id, logo_url=LOGO)
    assert updated is not None
    assert updated.logo_url == LOGO
    assert (await repos.get_partner(partner_id)).logo_url == LOGO  # type: ignore[union-attr]
    secret = await client_secret(harness, key)
    response = await harness.client.get("/start", params={"client_secret": secret})
    assert page_config(response.text)["logoUrl"] == LOGO
    # The page itself never loads it: the policy's img-src stays the service's own.
    assert directives(response)["img-src"] == "'self' data:"

    cleared = await partners.set_logo_url(repos, partner_id=partner_id, logo_url="")
    assert cleared is not None
    assert cleared.logo_url is None
    response = await harness.client.get("/start", params={"client_secret": secret})
    builtin = page_config(response.text)["logoUrl"]
    assert builtin.startswith("http://testserver/hosted/static/logo.")
    assert builtin.endswith(".svg")
    logo = await harness.client.get(builtin.removeprefix("http://testserver"))
    assert logo.status_code == 200
    assert logo.headers["content-type"] == "image/svg+xml"
    assert logo.content.startswith(b"<svg")


async def test_without_a_partner_logo_the_deployments_default_is_sent(
    settings: Settings, clock: ManualClock, harness: Harness
) -> None:
    default = "https://imprint.example/logo.png"
    app = create_app(settings.model_copy(update={"default_logo_url": default}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            _, key = await harness.new_partner()
            secret = await client_secret(harness, key)
            known = await client.get("/start", params={"client_secret": secret})
            unknown = await client.get("/start", params={"client_secret": "nonsense"})
    assert page_config(known.text)["logoUrl"] == default
    assert page_config(unknown.text)["logoUrl"] == default


async def test_a_partner_is_created_with_its_logo(harness: Harness) -> None:
    repos = harness.services.database.repositories
    created = await partners.create_partner(
        repos, clock=harness.services.clock, name="Logo shop", merchant_keys=[], logo_url=LOGO
    )
    found = await repos.get_partner(created.id)
    assert found is not None
    assert found.logo_url == LOGO
    assert [p.logo_url for p in await repos.list_partners() if p.id == created.id] == [LOGO]


@pytest.mark.parametrize(
    "logo_url",
    [
        "http://cdn.shop.example.com/logo.png",
        "/static/logo.png",
        "javascript:alert(1)",
        "https://user:pw@cdn.shop.example.com/logo.png",
        "https://cdn.shop.example.com/a b.png",
        "https://cdn.shop.example.com:99999/logo.png",
        "https://cdn.shop.example.com/" + "a" * 2048,
    ],
    ids=["http", "relative", "javascript", "credentials", "space", "port", "long"],
)
async def test_a_logo_url_the_device_should_not_fetch_is_refused(
    harness: Harness, logo_url: str
) -> None:
    partner_id, _ = await harness.new_partner()
    repos = harness.services.database.repositories
    with pytest.raises(InvalidRequest) as refused:
        await partners.set_logo_url(repos, partner_id=partner_id, logo_url=logo_url)
    assert refused.value.details == [partners.LOGO_URL_RULE]
    with pytest.raises(InvalidRequest):
        await partners.create_partner(
            repos, clock=harness.services.clock, name="x", merchant_keys=[], logo_url=logo_url
        )
    assert (await repos.get_partner(partner_id)).logo_url is None  # type: ignore[union-attr]


async def test_a_local_http_logo_is_allowed_and_an_unknown_partner_is_none(
    harness: Harness,
) -> None:
    repos = harness.services.database.repositories
    assert partners.is_valid_logo_url("http://localhost:8000/logo.png")
    assert await partners.set_logo_url(repos, partner_id=new_id(), logo_url=LOGO) is None


def test_an_unusable_default_logo_url_stops_the_deployment_at_start() -> None:
    with pytest.raises(ValueError, match="IMPRINT_DEFAULT_LOGO_URL"):
        Settings(default_logo_url="http://imprint.example/logo.png")
