"""The operator console in a real Chromium (Debian's, through Playwright) against a real
``serve``, on SQLite and PostgreSQL: an operator made by the CLI signs in with the keyboard
alone (Tab through the form, Enter submits), reaches the partner's sections through the nav
and revokes a key with the keyboard; the pages break no CSP rule and fit a 375 px phone.

Screenshots of each page at 375 px and 1280 px go to ``test-artifacts/console/`` (and the
test's tmp path); their paths are printed (``pytest -s`` shows them)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Server, cli

pytestmark = pytest.mark.xdist_group("browser")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
TIMEOUT_MS = 20_000
WIDTHS = (375, 1280)
MAX_TABS = 40


def create_operator(server: Server, name: str) -> dict[str, Any]:
    made = cli(server.env, "operators", "create", "--name", name, "--json")
    assert made.returncode == 0, made.stderr
    created: dict[str, Any] = json.loads(made.stdout)
    _REGISTRY.remember(created["credential"])
    return created


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)

    def remember(response: Any) -> None:  # the login's cookie joins the leak registry
        for header, value in response.headers.items():
            if header == "set-cookie" and "imprint_console=" in value:
                _REGISTRY.remember(value.split("imprint_console=", 1)[1].split(";", 1)[0])

    context.on("response", remember)
    opened = context.new_page()
    opened.console_messages = []
    opened.on("console", lambda m: opened.console_messages.append(f"{m.type}: {m.text}"))
    opened.on("pageerror", lambda e: opened.console_messages.append(f"pageerror: {e}"))
    yield opened
    context.close()


def focused(page: Any) -> Any:
    return page.locator(":focus")


def tab_to(page: Any, matches: Any) -> Any:
    """Press Tab until the focused element satisfies ``matches``; that element."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        element = focused(page)
        if element.count() == 1 and matches(element):
            return element
    raise AssertionError("never reached by Tab")


def screenshots(page: Any, name: str, backend: str, tmp_path: Path) -> None:
    """The page at a phone's width and a desktop's, saved and printed; at 375 px nothing may
    scroll sideways (tables become cards)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, f"{name} scrolls sideways at {width} px"
        for folder in (ARTIFACTS, tmp_path):
            path = folder / f"{backend}-{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
    page.set_viewport_size({"width": 1280, "height": 900})


def assert_no_policy_violations(page: Any) -> None:
    problems = [
        line
        for line in page.console_messages
        if "Content Security Policy" in line
        or line.startswith("pageerror")
        # A 4xx page (the refused sign-in's 401) is logged too, and is no problem.
        or (line.startswith("error") and "Failed to load resource" not in line)
    ]
    assert problems == []


def test_an_operator_signs_in_and_revokes_a_key_with_the_keyboard_alone(
    page: Any, browser_server: Server, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = request.node.callspec.params["browser_server"]
    base = browser_server.base_url
    api_key = browser_server.api_key()
    made = httpx.post(
        f"{base}/v2/customer_sessions",
        json={"partner_customer_id": "CUST_BROWSER", "customer_history": {"first_name": "Ada"}},
        auth=(api_key, ""),
    )
    assert made.status_code == 200, made.text
    extra = httpx.post(f"{base}/v2/keys", auth=(api_key, ""))
    assert extra.status_code == 200, extra.text
    doomed = extra.json()
    _REGISTRY.remember(doomed["api_key"])
    operator = create_operator(browser_server, f"Browser operator {backend}")

    page.goto(f"{base}/console/login")
    skip = tab_to(page, lambda e: e.inner_text() == "Skip to content")
    assert skip.get_attribute("href") == "#main"
    credential = tab_to(page, lambda e: e.get_attribute("id") == "credential")
    assert page.get_by_label("Operator credential").get_attribute("type") == "password"
    credential.press_sequentially(operator["credential"])
    screenshots(page, "login", backend, tmp_path)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/console"
    assert f"Signed in as {operator['name']}" in page.content()

    partner_link = tab_to(page, lambda e: e.inner_text() == "Sandbox partner")
    with page.expect_navigation():
        partner_link.press("Enter")
    assert page.url.endswith("/sessions")
    assert made.json()["id"] in page.content()
    assert made.json()["client_secret"] not in page.content()
    screenshots(page, "sessions", backend, tmp_path)

    nav = tab_to(page, lambda e: e.inner_text() == "API keys")
    with page.expect_navigation():
        nav.press("Enter")
    assert page.url.endswith("/keys")
    screenshots(page, "keys", backend, tmp_path)
    revoke = tab_to(
        page,
        lambda e: (
            e.inner_text().startswith("Revoke")
            and doomed["display_prefix"] in (e.text_content() or "")
        ),
    )
    with page.expect_navigation():
        revoke.press("Enter")
    assert page.url.endswith("/keys?done=revoked")
    assert page.get_by_role("status").inner_text() == "The key was revoked."
    screenshots(page, "keys-revoked", backend, tmp_path)

    deadline = time.monotonic() + 3  # every server refuses it within its cache's second
    while httpx.get(f"{base}/v2/audit_events", auth=(doomed["api_key"], "")).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.2)
    assert httpx.get(f"{base}/v2/audit_events", auth=(api_key, "")).status_code == 200

    nav = tab_to(page, lambda e: e.inner_text() == "Audit events")
    with page.expect_navigation():
        nav.press("Enter")
    assert "operator (" + operator["name"] + ")" in page.content()
    screenshots(page, "audit", backend, tmp_path)
    for section in ("customers", "applications", "webhooks"):
        page.get_by_role(
            "link", name={"webhooks": "Webhook deliveries"}.get(section, section.capitalize())
        ).click()
        page.wait_for_url(f"**/{section}")
        screenshots(page, section, backend, tmp_path)
    assert_no_policy_violations(page)


def test_the_cli_lists_and_revokes_operators_and_a_revoked_one_cannot_sign_in(
    page: Any, browser_server: Server
) -> None:
    operator = create_operator(browser_server, "Short-lived operator")
    listed = cli(browser_server.env, "operators", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [o for o in json.loads(listed.stdout) if o["id"] == operator["id"]]
    assert row["revoked_at"] is None
    assert "credential" not in row
    assert operator["credential"] not in listed.stdout
    revoked = cli(browser_server.env, "operators", "revoke", operator["id"])
    assert revoked.returncode == 0, revoked.stderr
    again = cli(browser_server.env, "operators", "revoke", operator["id"])
    assert again.returncode == 1

    page.goto(f"{browser_server.base_url}/console/login")
    page.get_by_label("Operator credential").fill(operator["credential"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    assert page.get_by_role("alert").inner_text() == "That credential is not valid."
    assert_no_policy_violations(page)
