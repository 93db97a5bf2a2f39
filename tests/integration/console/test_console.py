"""The operator console over HTTP, on SQLite and PostgreSQL: signing in and out, the cookie,
form tokens, the page headers, what the pages show (never a secret, PII masked), revoking a key
(audited with the operator as actor) and every kind of bad input answered by a 4xx page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import Harness
from console_login import csrf_token, new_operator, sign_in, signed_in
from imprint_sessions.domain import console, operators, sandboxes

HTML = "text/html"


async def _session_with_customer(harness: Harness, api_key: str) -> dict[str, Any]:
    body = {
        "partner_customer_id": "CUST_0001",
        "customer_history": {
            "email": "grace.hopper@example.com",
            "phone": "+14155550123",
            "first_name": "Grace",
            "last_name": "Hopper",
        },
    }
    response = await harness.client.post("/v2/customer_sessions", json=body, auth=(api_key, ""))
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def _assert_console_headers(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy  # no script at all, inline or not
    assert "'unsafe-inline'" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    # Regression: under no-referrer Chromium sent `Origin: null` with every form, all refused.
    assert response.headers["referrer-policy"] == "same-origin"


async def test_signing_in_sets_a_strict_httponly_cookie_and_opens_the_console(
    harness: Harness,
) -> None:
    operator = await new_operator(harness)
    response = await sign_in(harness.client, operator.credential)
    assert response.status_code == 303
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and "imprint_console=" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert re.search(r"Max-Age=28800\b", cookie)
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    home = await harness.client.get("/console")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith(HTML)
    assert "Signed in as Ada Operator" in home.text
    _assert_console_headers(home)


async def test_over_https_the_cookie_is_secure(harness: Harness) -> None:
    operator = await new_operator(harness)
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await sign_in(client, operator.credential)
    assert response.status_code == 303
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert any("imprint_console=" in c and "Secure" in c for c in cookies)


@pytest.mark.parametrize(
    "credential", ["", "ioc_" + "A" * 43, "isk_test_" + "B" * 43, "not a credential"]
)
async def test_a_wrong_credential_is_a_401_page_and_no_login(
    harness: Harness, credential: str
) -> None:
    await new_operator(harness)
    response = await sign_in(harness.client, credential)
    assert response.status_code == 401
    assert "That credential is not valid." in response.text
    assert "imprint_console=" not in response.headers.get("set-cookie", "")
    _assert_console_headers(response)
    assert (await harness.client.get("/console")).status_code == 303


async def test_the_login_form_refuses_a_post_without_its_token(harness: Harness) -> None:
    operator = await new_operator(harness)
    await harness.client.get("/console/login")
    forged = await harness.client.post(
        "/console/login", data={"csrf_token": "guessed", "credential": operator.credential}
    )
    assert forged.status_code == 403
    harness.client.cookies.clear()
    without_cookie = await harness.client.post(
        "/console/login", data={"csrf_token": "x" * 32, "credential": operator.credential}
    )
    assert without_cookie.status_code == 403
    assert (await harness.client.get("/console")).status_code == 303


@pytest.mark.parametrize(
    ("origin", "status"),
    [("https://evil.example", 403), ("null", 403), ("http://testserver", 303)],
)
async def test_a_post_from_another_origin_is_refused(
    harness: Harness, origin: str, status: int
) -> None:
    operator = await new_operator(harness)
    form = await harness.client.get("/console/login")
    response = await harness.client.post(
        "/console/login",
        data={"csrf_token": csrf_token(form.text), "credential": operator.credential},
        headers={"origin": origin},
    )
    assert response.status_code == status


@pytest.mark.parametrize(
    "path", ["/console", "/console/partners/0F5B0000-0000-4000-8000-000000000000/keys"]
)
async def test_pages_without_a_login_redirect_to_the_form(harness: Harness, path: str) -> None:
    response = await harness.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


async def test_signing_out_revokes_the_login_everywhere(harness: Harness) -> None:
    await signed_in(harness)
    token = harness.client.cookies["imprint_console"]
    home = await harness.client.get("/console")
    out = await harness.client.post("/console/logout", data={"csrf_token": csrf_token(home.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    # The old cookie, sent again as an attacker holding it would: no longer a login.
    harness.client.cookies.set("imprint_console", token, path="/console")
    assert (await harness.client.get("/console")).status_code == 303


async def test_revoking_the_operator_ends_their_logins(harness: Harness) -> None:
    operator = await signed_in(harness)
    services = harness.services
    revoked = await operators.revoke_operator(
        services.database.repositories, clock=services.clock, operator_id=operator.id
    )
    assert revoked is not None
    assert revoked.revoked_at is not None
    assert (await harness.client.get("/console")).status_code == 303
    assert (await sign_in(harness.client, operator.credential)).status_code == 401


async def test_pages_show_state_and_masked_pii_never_a_secret(harness: Harness) -> None:
    partner_id, api_key = await harness.new_partner()
    created = await _session_with_customer(harness, api_key)
    customers = await harness.client.get(
        "/v2/customers", params={"partner_customer_id": "CUST_0001"}, auth=(api_key, "")
    )
    customer_id = customers.json()["data"][0]["id"]
    update = await harness.client.post(
        f"/v2/customers/{customer_id}", json={"ssn": "123-45-6789"}, auth=(api_key, "")
    )
    assert update.status_code == 200, update.text
    await signed_in(harness)
    base = f"/console/partners/{partner_id}"
    pages = {}
    for section in ("sessions", "customers", "applications", "webhooks", "keys", "audit"):
        response = await harness.client.get(f"{base}/{section}")
        assert response.status_code == 200, (section, response.text)
        _assert_console_headers(response)
        pages[section] = response.text
    everything = "\n".join(pages.values())
    assert created["id"] in pages["sessions"]
    assert "state-active" in pages["sessions"]
    for secret in (created["client_secret"], api_key, "123-45-6789", "123456789"):
        assert secret not in everything
    for pii in ("grace.hopper@example.com", "+14155550123", "Hopper"):
        assert pii not in everything
    assert "g\u2022\u2022\u2022@example.com" in pages["customers"]
    assert "+1" + "\u2022" * 6 + "0123" in pages["customers"]
    assert "\u2022\u2022\u2022-\u2022\u2022-6789" in pages["customers"]
    assert "Grace H." in pages["customers"]
    assert api_key[:13] in pages["keys"]  # by its display prefix
    assert "customer_session.created" in pages["audit"]


async def test_revoking_a_key_needs_the_form_token_and_is_audited_as_the_operator(
    harness: Harness,
) -> None:
    partner_id, api_key = await harness.new_partner()
    operator = await signed_in(harness)
    keys_page = await harness.client.get(f"/console/partners/{partner_id}/keys")
    key_id = re.search(r"/keys/([0-9A-F-]{36})/revoke", keys_page.text)
    assert key_id is not None
    path = f"/console/partners/{partner_id}/keys/{key_id.group(1)}/revoke"

    refused = await harness.client.post(path, data={"csrf_token": "0" * 64})
    assert refused.status_code == 403
    missing = await harness.client.post(path, data={"other": "1"})
    assert missing.status_code == 403
    auth = (api_key, "")
    assert (await harness.client.get("/v2/audit_events", auth=auth)).status_code == 200

    done = await harness.client.post(path, data={"csrf_token": csrf_token(keys_page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/partners/{partner_id}/keys?done=revoked"
    after = await harness.client.get(done.headers["location"])
    assert "The key was revoked." in after.text
    assert "state-revoked" in after.text
    assert (await harness.client.get("/v2/audit_events", auth=auth)).status_code == 401

    (entry,) = await trail_of(harness, partner_id, "api_key.revoked")
    assert entry.actor_type == "operator"
    assert entry.actor_id == operator.id
    assert entry.actor_display == operator.name
    assert entry.object_id == key_id.group(1)
    assert entry.client_address is not None

    again = await harness.client.post(path, data={"csrf_token": csrf_token(keys_page.text)})
    assert again.status_code == 404  # no longer an active key: a page, and no second entry
    assert again.headers["content-type"].startswith(HTML)
    assert len(await trail_of(harness, partner_id, "api_key.revoked")) == 1


async def trail_of(harness: Harness, partner_id: str, type_: str) -> list[Any]:
    page = await console.audit_page(
        harness.services.database.repositories, partner_id=partner_id, types=[type_]
    )
    return page.items


async def test_a_key_of_another_partner_cannot_be_revoked_through_this_one(
    harness: Harness,
) -> None:
    partner_id, _ = await harness.new_partner()
    other_id, other_key = await harness.new_partner()
    await signed_in(harness)
    other_page = await harness.client.get(f"/console/partners/{other_id}/keys")
    other_key_id = re.search(r"/keys/([0-9A-F-]{36})/revoke", other_page.text)
    assert other_key_id is not None
    response = await harness.client.post(
        f"/console/partners/{partner_id}/keys/{other_key_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(other_page.text)},
    )
    assert response.status_code == 404
    assert (await harness.client.get("/v2/audit_events", auth=(other_key, ""))).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/partners/not-a-uuid/sessions", 404),
        ("/console/partners/0F5B0000-0000-4000-8000-000000000000/customers", 404),
        ("/console/partners/{p}/audit?type=nope", 400),
        ("/console/partners/{p}/audit?starting_after=nope", 400),
        ("/console/partners/{p}/audit?starting_after=0F5B0000-0000-4000-8000-000000000000", 400),
        ("/console/static/console.0123456789ab.css", 404),
    ],
)
async def test_bad_input_in_a_page_request_is_a_4xx_page(
    harness: Harness, path: str, status: int
) -> None:
    partner_id, _ = await harness.new_partner()
    await signed_in(harness)
    response = await harness.client.get(path.format(p=partner_id))
    assert response.status_code == status, response.text
    if not path.startswith("/console/static"):
        assert response.headers["content-type"].startswith(HTML)
        _assert_console_headers(response)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"csrf_token": "x"}', "application/json"),
        (b"csrf_token=%ff%fe", "text/plain"),
        (b"\xff\xfe=\x00", "application/x-www-form-urlencoded"),
        (b"&".join(b"f%d=1" % n for n in range(50)), "application/x-www-form-urlencoded"),
    ],
)
async def test_a_malformed_form_is_a_400_page(
    harness: Harness, content: bytes, content_type: str
) -> None:
    await signed_in(harness)
    response = await harness.client.post(
        "/console/logout", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith(HTML)
    assert (await harness.client.get("/console")).status_code == 200  # still signed in


async def test_console_routes_are_not_in_the_served_openapi(harness: Harness) -> None:
    spec = (await harness.client.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if path.startswith("/console")]


async def test_the_stylesheet_is_served_by_its_hashed_name(harness: Harness) -> None:
    page = await harness.client.get("/console/login")
    (href,) = re.findall(r'href="(/console/static/console\.[0-9a-f]{12}\.css)"', page.text)
    css = await harness.client.get(href)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]


async def test_a_sandbox_reset_and_delete_leave_operators_alone(harness: Harness) -> None:
    operator = await new_operator(harness)
    parent_id, _ = await harness.new_partner()
    repos = harness.services.database.repositories
    issued = await sandboxes.create_sandbox(
        repos,
        clock=harness.services.clock,
        box=harness.services.box,
        parent_id=parent_id,
        name="ci-1",
    )
    await sandboxes.reset_sandbox(repos, caller_id=parent_id, sandbox_id=issued.sandbox.id)
    await sandboxes.delete_sandbox(
        repos, clock=harness.services.clock, caller_id=parent_id, sandbox_id=issued.sandbox.id
    )
    listed = {o.id: o for o in await operators.list_operators(repos)}
    assert listed[operator.id].revoked_at is None
    assert (await sign_in(harness.client, operator.credential)).status_code == 303
