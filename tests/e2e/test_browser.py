"""The demo shop, the web SDK and the hosted application in a real Chromium, against a real server.

Every case counts the shop's ``onCompletion`` calls (``#result[data-completions]``): exactly one
per start. A screenshot of each final screen goes to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Server, cli
from imprint_sessions.hosted.pages import ASSETS

pytestmark = pytest.mark.xdist_group("browser")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FRAME = "iframe[title='Imprint application']"
SANDBOX_CODE = "888888"
TIMEOUT_MS = 20_000
UUID_RE = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
# onCompletion's metadata: always these four keys, null where unknown (web, iOS and Android).
METADATA_KEYS = {"customer_id", "partner_customer_id", "payment_method_id", "error_code"}


def assert_ids_only(metadata: dict[str, Any]) -> None:
    """The four keys: the customer's ids known, no payment method, no error."""
    assert set(metadata) == METADATA_KEYS
    assert UUID_RE.match(metadata["customer_id"])
    assert metadata["partner_customer_id"]
    assert metadata["payment_method_id"] is None
    assert metadata["error_code"] is None


# -- fixtures and helpers -------------------------------------------------------------------------
class Shop:
    """The demo shop open in one browser page, with what the test saw happen around it."""

    def __init__(self, page: Any, server: Server, backend: str) -> None:
        self.page = page
        self.server = server
        self.backend = backend
        self.console: list[str] = []
        self.start_responses: list[Any] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    # the shop's side
    def apply(self, last_name: str = "approve", language: str = "") -> Any:
        """Choose the sandbox options, press Apply; the hosted page's frame."""
        if self.page.get_attribute("details.tester", "open") is None:
            self.page.click("summary")
        self.page.select_option("#last-name", last_name)
        self.page.select_option("#language", language)
        self.page.click("#apply-button")
        return self.frame()

    def frame(self) -> Any:
        return self.page.frame_locator(FRAME)

    def completions(self) -> int:
        return int(self.page.get_attribute("#result", "data-completions") or "0")

    def wait_for_completion(self, count: int) -> tuple[str, dict[str, Any]]:
        """Wait for the ``count``-th onCompletion; then make sure no further one follows."""
        # A selector, not wait_for_function: the shop's CSP forbids evaluating strings.
        self.page.wait_for_selector(f"#result[data-completions='{count}']", state="attached")
        self.page.wait_for_selector(FRAME, state="detached")
        self.page.keyboard.press("Escape")  # the SDK's listeners must be gone
        self.page.wait_for_timeout(500)
        assert self.completions() == count
        state = self.page.get_attribute("#result", "data-state") or ""
        metadata = json.loads(self.page.get_attribute("#result", "data-metadata") or "{}")
        return state, metadata

    def screenshot(self, name: str, *, full_page: bool = False) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.backend}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)

    def assert_no_policy_violations(self) -> None:
        """No CSP violation, no script error (a 4xx answer is logged too, and is no problem)."""
        problems = [
            line
            for line in self.console
            if "Content Security Policy" in line
            or line.startswith("pageerror")
            or (line.startswith("error") and "Failed to load resource" not in line)
        ]
        assert problems == []


def remember_credentials(response: Any) -> None:
    """Every secret and token the browser receives joins the leak registry."""
    if not response.url.endswith(("/demo/session", "/v2/client/exchange")) or not response.ok:
        return
    try:
        body = response.json()
    except Exception:  # a body already gone (navigation) holds nothing to remember
        return
    for key in ("client_secret", "access_token"):
        if isinstance(body, dict) and isinstance(body.get(key), str):
            _REGISTRY.remember(body[key])


@pytest.fixture
def new_context(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("response", remember_credentials)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shop(new_context: Any, browser_server: Server, request: pytest.FixtureRequest) -> Shop:
    """The demo shop at a phone's width (360 px): the size the hosted page must work at."""
    context = new_context(viewport={"width": 360, "height": 780}, locale="en-US")
    page = context.new_page()
    backend = request.node.callspec.params["browser_server"]
    opened = Shop(page, browser_server, backend)
    page.goto(f"{browser_server.base_url}/demo")
    return opened


def review_profile(frame: Any) -> None:
    frame.get_by_role("heading", name="Review your details").wait_for()
    assert frame.locator("#f-last_name").input_value() in ("approve", "review", "Smith")
    frame.get_by_label("Date of birth").fill("1990-04-12")
    frame.get_by_role("button", name="Continue").click()


def verify_phone(frame: Any) -> None:
    frame.get_by_role("heading", name="Verify your phone").wait_for()
    assert SANDBOX_CODE in frame.locator("#sandbox-code").inner_text()
    frame.get_by_label("Verification code").fill(SANDBOX_CODE)
    frame.get_by_role("button", name="Verify").click()


def apply_for_a_loan(frame: Any) -> None:
    frame.get_by_role("heading", name="Apply").wait_for()
    frame.get_by_label("A loan").check()
    frame.get_by_label("Loan amount").fill("2000")
    frame.get_by_label("Term").select_option("24")
    frame.get_by_label("Last 4 digits of your Social Security number").fill("4321")
    frame.get_by_label("Housing", exact=True).select_option("OWN")
    frame.get_by_label("Monthly housing cost").fill("900")
    frame.get_by_label("Main source of income").select_option("SELF-EMPLOYED")
    frame.get_by_label("Yearly income").fill("64000")
    frame.get_by_role("button", name="Submit application").click()


def apply_for_a_card(frame: Any) -> None:
    frame.get_by_role("heading", name="Apply").wait_for()
    frame.get_by_label("A credit card").check()
    frame.get_by_label("Last 4 digits of your Social Security number").fill("1234")
    frame.get_by_label("Housing", exact=True).select_option("RENT")
    frame.get_by_label("Monthly housing cost").fill("1200")
    frame.get_by_label("Main source of income").select_option("EMPLOYED")
    frame.get_by_label("Yearly income").fill("85000")
    frame.get_by_role("button", name="Submit application").click()


def hosted_page(shop: Shop) -> Any:
    """The hosted page's frame object (for evaluating script inside it)."""
    for frame in shop.page.frames:
        if "/start" in frame.url:
            return frame
    raise AssertionError([f.url for f in shop.page.frames])


# -- the flows ------------------------------------------------------------------------------------
def test_the_demo_shop_through_to_an_approved_card(shop: Shop) -> None:
    frame = shop.apply("approve")
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_card(frame)
    frame.get_by_role("heading", name="You are approved").wait_for()
    assert "$" in frame.locator("#offer-amount").inner_text()
    frame.get_by_role("button", name="Accept offer").click()
    frame.get_by_role("heading", name="Your card is ready").wait_for()
    assert re.fullmatch(r"•••• \d{4}", frame.locator("#card-number").inner_text())
    # The page fits a 360 px screen: nothing scrolls sideways.
    assert hosted_page(shop).evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shop.screenshot("approved-card")
    frame.get_by_role("button", name="Done").click()

    state, metadata = shop.wait_for_completion(1)
    assert state == "OFFER_ACCEPTED"
    assert set(metadata) == METADATA_KEYS
    assert metadata["error_code"] is None
    assert UUID_RE.match(metadata["customer_id"])
    assert UUID_RE.match(metadata["payment_method_id"])
    assert metadata["partner_customer_id"].startswith("DEMO-")
    events = shop.page.locator("#events li").all_inner_texts()
    assert events[0] == "IN_PROGRESS (intermediate)"
    assert events[-2:] == ["OFFER_ACCEPTED (outcome)", "CLOSED (terminal)"]
    shop.screenshot("approved-shop", full_page=True)
    shop.assert_no_policy_violations()


def test_an_approved_loan(shop: Shop) -> None:
    frame = shop.apply("approve")
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_loan(frame)
    frame.get_by_role("heading", name="You are approved").wait_for()
    assert frame.locator("#offer-amount-label").inner_text() == "Loan amount"
    assert frame.locator("#offer-term").inner_text() == "24 months"
    frame.get_by_role("button", name="Accept offer").click()
    frame.get_by_role("heading", name="Your loan is ready").wait_for()
    assert frame.locator("#card-label").inner_text() == "Loan of $2,000.00"
    shop.screenshot("approved-loan")
    frame.get_by_role("button", name="Done").click()

    state, metadata = shop.wait_for_completion(1)
    assert state == "OFFER_ACCEPTED"
    assert set(metadata) == METADATA_KEYS
    assert UUID_RE.match(metadata["payment_method_id"])
    assert metadata["error_code"] is None
    shop.assert_no_policy_violations()


def test_a_rejected_applicant(shop: Shop) -> None:
    frame = shop.apply("Smith")
    frame.get_by_role("heading", name="Review your details").wait_for()
    # The server's validation details land next to their fields, and focus goes to the first.
    frame.get_by_label("Date of birth").fill("1990-04-12")
    frame.get_by_label("Mobile phone").fill("555")
    frame.get_by_role("button", name="Continue").click()
    error = frame.locator("#e-phone")
    error.wait_for()
    assert "E.164" in error.inner_text()
    assert frame.locator("#f-phone").get_attribute("aria-invalid") == "true"
    assert hosted_page(shop).evaluate("document.activeElement.id") == "f-phone"
    frame.get_by_label("Mobile phone").fill("+14155550123")
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_card(frame)
    frame.get_by_role("heading", name="We can't approve your application").wait_for()
    shop.screenshot("rejected")
    frame.get_by_role("button", name="Done").click()

    state, metadata = shop.wait_for_completion(1)
    assert state == "REJECTED"
    assert_ids_only(metadata)
    shop.assert_no_policy_violations()


def test_a_pending_review_reports_in_progress(shop: Shop) -> None:
    frame = shop.apply("review")
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_card(frame)
    frame.get_by_role("heading", name="We are reviewing your application").wait_for()
    shop.screenshot("pending-review")
    frame.get_by_role("button", name="Done").click()

    state, metadata = shop.wait_for_completion(1)
    assert state == "IN_PROGRESS"
    assert_ids_only(metadata)
    shop.assert_no_policy_violations()


def test_closing_the_modal_before_a_decision_reports_in_progress(shop: Shop) -> None:
    frame = shop.apply()
    frame.get_by_role("heading", name="Review your details").wait_for()
    # A message from anything but the hosted page's frame is ignored, even from the same origin.
    shop.page.evaluate(
        "window.postMessage({source: 'imprint_web_app', event_name: 'REJECTED', tier: 'outcome'},"
        " '*'); window.postMessage({source: 'imprint_web_app', event_name: 'CLOSED',"
        " tier: 'terminal'}, '*')"
    )
    shop.page.wait_for_timeout(300)
    assert shop.page.locator(FRAME).count() == 1
    shop.page.get_by_role("button", name="Close").click()

    state, metadata = shop.wait_for_completion(1)
    assert state == "IN_PROGRESS"
    assert_ids_only(metadata)
    shop.screenshot("closed-early")

    # Escape inside the hosted page closes the modal too.
    frame = shop.apply()
    frame.get_by_role("heading", name="Review your details").wait_for()
    frame.get_by_label("First name").press("Escape")
    state, _ = shop.wait_for_completion(2)
    assert state == "IN_PROGRESS"
    shop.assert_no_policy_violations()


def test_a_reused_secret_reports_an_invalid_client_secret(shop: Shop) -> None:
    frame = shop.apply()
    frame.get_by_role("heading", name="Review your details").wait_for()
    shop.page.get_by_role("button", name="Close").click()
    assert shop.wait_for_completion(1)[0] == "IN_PROGRESS"

    shop.page.click("#reuse-button")
    frame = shop.frame()
    frame.get_by_role("heading", name="Something went wrong").wait_for()
    assert "already used" in frame.locator("#error-text").inner_text()
    shop.screenshot("reused-secret")
    frame.get_by_role("button", name="Close").click()

    state, metadata = shop.wait_for_completion(2)
    assert state == "ERROR"
    assert metadata == {
        "customer_id": None,
        "partner_customer_id": None,
        "payment_method_id": None,
        "error_code": "INVALID_CLIENT_SECRET",
    }


def test_a_second_start_while_one_is_open_is_ignored_with_a_warning(shop: Shop) -> None:
    frame = shop.apply()
    frame.get_by_role("heading", name="Review your details").wait_for()
    shop.page.evaluate(
        "window.Imprint.startApplication({clientSecret: 'ics_x', onCompletion: function () {"
        " window.secondCompletions = (window.secondCompletions || 0) + 1; }})"
    )
    assert shop.page.locator(FRAME).count() == 1
    warning = "warning: Imprint: an application is already open"
    assert any(line.startswith(warning) for line in shop.console)
    shop.page.get_by_role("button", name="Close").click()
    shop.wait_for_completion(1)
    assert shop.page.evaluate("window.secondCompletions === undefined")


def test_the_secret_leaves_the_address_bar_and_the_page_follows_its_policy(shop: Shop) -> None:
    with shop.page.expect_response(lambda r: "/start?" in r.url) as started:
        frame = shop.apply()
        frame.get_by_role("heading", name="Review your details").wait_for()
    response = started.value
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    href = hosted_page(shop).evaluate("location.href")
    assert "client_secret" not in href
    assert "ics_" not in href
    assert "parentOrigin=" in href
    storage = hosted_page(shop).evaluate(
        "JSON.stringify([localStorage.length, sessionStorage.length, document.cookie])"
    )
    assert storage == '[0,0,""]'
    # Tab order starts at the step's heading, which has focus, and reaches the fields.
    focused = hosted_page(shop).evaluate("document.activeElement.id")
    assert focused == "profile-heading"
    shop.page.keyboard.press("Tab")
    assert hosted_page(shop).evaluate("document.activeElement.id") == "f-first_name"
    shop.assert_no_policy_violations()


def test_inline_in_a_container_the_page_offers_its_own_close_button(shop: Shop) -> None:
    created = shop.page.evaluate(
        "fetch('/demo/session', {method: 'POST', headers: {'content-type': 'application/json'},"
        " body: '{}'}).then(function (r) { return r.json(); })"
    )
    _REGISTRY.remember(created["client_secret"])
    shop.page.evaluate(
        """secret => {
            const box = document.createElement('div');
            box.id = 'inline-box';
            document.querySelector('main').appendChild(box);
            window.Imprint.startApplication({
                clientSecret: secret,
                container: '#inline-box',
                onCompletion: function (state) { box.dataset.state = state; },
            });
        }""",
        created["client_secret"],
    )
    assert shop.page.locator(f"#inline-box {FRAME}").count() == 1
    assert shop.page.get_by_role("dialog").count() == 0  # no modal
    frame = shop.frame()
    frame.get_by_role("heading", name="Review your details").wait_for()
    frame.get_by_role("button", name="Close").click()
    shop.page.wait_for_selector("#inline-box[data-state='IN_PROGRESS']", state="attached")
    assert shop.page.locator(FRAME).count() == 0


# -- inside the native SDKs' WebViews ------------------------------------------------------------
# What the iOS and Android shells inject before the page loads (the only fake: it stands in for
# the phone, which is outside this machine).
NATIVE_BRIDGES = """
    window.heard = {ios: [], android: []};
    window.webkit = {messageHandlers: {imprintWebCallback: {
        postMessage: function (message) { window.heard.ios.push(message); }}}};
    window.androidInterface = {
        onMessage: function (json) { window.heard.android.push(JSON.parse(json)); }};
"""
LOGO = "https://cdn.native-shop.example/logo.png"


def native_completion(heard: list[dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """What both native SDKs hand ``onCompletion`` when closed after ``heard``.

    Their published rule (imprint-sdk-ios ``WebViewWrapper``, imprint-sdk-android
    ``ApplicationViewModel.processEventData``): a ``logoUrl`` message only sets the logo; CLOSED
    keeps what came before; any other event becomes the state, and its message minus
    ``event_name`` and ``source`` becomes the metadata. With no event: IN_PROGRESS, no metadata.
    """
    state: str = "IN_PROGRESS"
    data: dict[str, Any] | None = None
    for message in heard:
        if message.get("logoUrl") or message.get("event_name") == "CLOSED":
            continue
        name = message["event_name"]
        state = name if name in ("OFFER_ACCEPTED", "REJECTED", "ERROR") else "IN_PROGRESS"
        data = {k: v for k, v in message.items() if k not in ("event_name", "source")}
    return state, data


def partner_with_logo(server: Server) -> str:
    """A new partner with a logo (set as an operator would), and an API key for it."""
    created = cli(server.env, "partners", "create", "--name", "Native shop", "--json")
    assert created.returncode == 0, created.stderr
    partner_id = json.loads(created.stdout)["id"]
    updated = cli(server.env, "partners", "update", "--partner", partner_id, "--logo-url", LOGO)
    assert updated.returncode == 0, updated.stderr
    key = cli(server.env, "keys", "create", "--partner", partner_id, "--json")
    assert key.returncode == 0, key.stderr
    api_key: str = json.loads(key.stdout)["api_key"]
    _REGISTRY.remember(api_key)
    return api_key


def test_native_shells_get_the_logo_first_the_four_keys_and_one_close_button(
    browser_server: Server, new_context: Any, request: pytest.FixtureRequest
) -> None:
    api_key = partner_with_logo(browser_server)
    partner_customer_id = f"CUST_NATIVE_{secrets.token_hex(3)}"
    created = httpx.post(
        f"{browser_server.base_url}/v2/customer_sessions",
        auth=(api_key, ""),
        json={
            "partner_customer_id": partner_customer_id,
            "customer_history": {
                "first_name": "Sam",
                "last_name": "approve",
                "email": "sam@example.com",
                "phone": f"+141555501{secrets.randbelow(100):02d}",
                "address": {
                    "street_line1": "1 Market St",
                    "city": "San Francisco",
                    "state": "CA",
                    "postal_code": "94105",
                    "country": "USA",
                },
            },
        },
    )
    assert created.status_code == 200, created.text
    secret = created.json()["client_secret"]
    _REGISTRY.remember(secret)
    context = new_context(viewport={"width": 360, "height": 780})
    context.add_init_script(NATIVE_BRIDGES)
    page = context.new_page()
    page.goto(f"{browser_server.base_url}/start?client_secret={secret}")
    page.get_by_role("heading", name="Review your details").wait_for()

    # The shell draws its close button: the page draws none of its own.
    assert page.locator("#close-button").is_hidden()
    assert page.get_by_role("button", name="Close").count() == 0
    heard = page.evaluate("window.heard")
    customer_id = heard["ios"][1]["customer_id"]
    assert UUID_RE.match(customer_id)
    ids = {"customer_id": customer_id, "partner_customer_id": partner_customer_id}
    nothing_yet = {**ids, "payment_method_id": None, "error_code": None}
    # The logo first; then iOS hears IN_PROGRESS, with the four keys and no tier.
    assert heard["ios"] == [
        {"logoUrl": LOGO},
        {"event_name": "IN_PROGRESS", "source": "imprint_web_app", **nothing_yet},
    ]
    # Android documents null metadata for IN_PROGRESS: it hears the logo only, so closing now
    # gives exactly that (not an ids map with a tier).
    assert heard["android"] == [{"logoUrl": LOGO}]
    assert native_completion(heard["android"]) == ("IN_PROGRESS", None)
    assert native_completion(heard["ios"]) == ("IN_PROGRESS", nothing_yet)

    review_profile(page)
    verify_phone(page)
    apply_for_a_card(page)
    page.get_by_role("button", name="Accept offer").click()
    page.get_by_role("heading", name="Your card is ready").wait_for()
    backend = request.node.callspec.params["browser_server"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{backend}-native-card.png"))
    page.get_by_role("button", name="Done").click()
    heard = page.evaluate("window.heard")
    for shell in ("ios", "android"):
        state, metadata = native_completion(heard[shell])
        assert state == "OFFER_ACCEPTED"
        assert metadata is not None
        assert set(metadata) == METADATA_KEYS  # no tier, nothing else
        assert UUID_RE.match(metadata["payment_method_id"])
        assert metadata == {**nothing_yet, "payment_method_id": metadata["payment_method_id"]}
        assert heard[shell][-1]["event_name"] == "CLOSED"
        assert heard[shell][0] == {"logoUrl": LOGO}


def test_native_shells_hear_an_error_with_the_four_keys(
    browser_server: Server, new_context: Any
) -> None:
    context = new_context()
    context.add_init_script(NATIVE_BRIDGES)
    page = context.new_page()
    page.goto(f"{browser_server.base_url}/start?client_secret=ics_00000000_{'A' * 64}")
    page.get_by_role("heading", name="Something went wrong").wait_for()
    assert page.locator("#close-button").is_hidden()
    page.get_by_role("button", name="Close").click()  # the error screen's own, the only one
    heard = page.evaluate("window.heard")
    nulls = {"customer_id": None, "partner_customer_id": None, "payment_method_id": None}
    expected = [
        {
            "event_name": "ERROR",
            "source": "imprint_web_app",
            **nulls,
            "error_code": "INVALID_CLIENT_SECRET",
        },
        {"event_name": "CLOSED", "source": "imprint_web_app", **nulls, "error_code": None},
    ]
    # No partner is known from a forged secret and this deployment sets no default logo: the
    # service's built-in one comes first.
    builtin = {"logoUrl": f"{browser_server.base_url}{ASSETS.url('logo.svg')}"}
    assert heard == {"ios": [builtin, *expected], "android": [builtin, *expected]}
    for shell in ("ios", "android"):
        assert native_completion(heard[shell]) == (
            "ERROR",
            {**nulls, "error_code": "INVALID_CLIENT_SECRET"},
        )


def test_in_a_web_page_the_logo_comes_first_and_the_sdk_passes_it_on_to_nobody(
    shop: Shop,
) -> None:
    api_key = partner_with_logo(shop.server)
    created = httpx.post(
        f"{shop.server.base_url}/v2/customer_sessions",
        auth=(api_key, ""),
        json={"customer_history": {"last_name": "approve"}},
    )
    assert created.status_code == 200, created.text
    _REGISTRY.remember(created.json()["client_secret"])
    shop.page.evaluate(
        """secret => {
            window.posted = [];
            window.addEventListener('message', function (event) {
                window.posted.push(event.data);
            });
            window.events = [];
            window.Imprint.startApplication({
                clientSecret: secret,
                onEvent: function (name, data) { window.events.push([name, data]); },
                onCompletion: function (state, metadata) {
                    document.body.dataset.logoState = state;
                },
            });
        }""",
        created.json()["client_secret"],
    )
    shop.frame().get_by_role("heading", name="Review your details").wait_for()
    shop.page.get_by_role("button", name="Close").click()  # the SDK's modal: its own, only one
    shop.page.wait_for_selector("body[data-logo-state='IN_PROGRESS']", state="attached")
    posted = shop.page.evaluate("window.posted")
    assert posted[0] == {"logoUrl": LOGO}
    assert posted[1]["event_name"] == "IN_PROGRESS"
    assert posted[1]["tier"] == "intermediate"  # the web SDK's, and only the web's
    assert set(posted[1]) == {"event_name", "source", "tier"} | METADATA_KEYS
    events = shop.page.evaluate("window.events")
    assert [name for name, _ in events] == ["IN_PROGRESS"]


# -- a returning cardholder -----------------------------------------------------------------------
def start_in_shop(shop: Shop, partner_customer_id: str, last_name: str = "approve") -> Any:
    """A new session for ``partner_customer_id``, started in the shop with the web SDK; its
    onCompletion and onEvent are written to ``#returning``."""
    created = shop.page.evaluate(
        """body => fetch('/demo/session', {method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify(body)}).then(r => r.json())""",
        {"partner_customer_id": partner_customer_id, "last_name": last_name},
    )
    _REGISTRY.remember(created["client_secret"])
    shop.page.evaluate(
        """secret => {
            let box = document.getElementById('returning');
            if (!box) {
                box = document.createElement('div');
                box.id = 'returning';
                document.querySelector('main').appendChild(box);
            }
            box.dataset.events = '[]';
            window.Imprint.startApplication({
                clientSecret: secret,
                onEvent: function (name) {
                    const seen = JSON.parse(box.dataset.events);
                    seen.push(name);
                    box.dataset.events = JSON.stringify(seen);
                },
                onCompletion: function (state, metadata) {
                    box.dataset.count = String(Number(box.dataset.count || 0) + 1);
                    box.dataset.state = state;
                    box.dataset.metadata = JSON.stringify(metadata);
                },
            });
        }""",
        created["client_secret"],
    )
    return shop.frame()


def returning_completion(shop: Shop, count: int) -> tuple[str, dict[str, Any], list[str]]:
    shop.page.wait_for_selector(f"#returning[data-count='{count}']", state="attached")
    shop.page.wait_for_timeout(300)
    box = shop.page.locator("#returning")
    assert box.get_attribute("data-count") == str(count)  # exactly once per start
    return (
        box.get_attribute("data-state") or "",
        json.loads(box.get_attribute("data-metadata") or "{}"),
        json.loads(box.get_attribute("data-events") or "[]"),
    )


def test_a_returning_cardholder_accepts_nothing_new_and_completes_in_progress(
    shop: Shop,
) -> None:
    partner_customer_id = f"DEMO-RETURNING-{secrets.token_hex(3).upper()}"
    frame = start_in_shop(shop, partner_customer_id)
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_card(frame)
    frame.get_by_role("button", name="Accept offer").click()
    frame.get_by_role("heading", name="Your card is ready").wait_for()
    last4 = frame.locator("#card-number").inner_text()
    frame.get_by_role("button", name="Done").click()
    state, first, events = returning_completion(shop, 1)
    assert state == "OFFER_ACCEPTED"
    assert UUID_RE.match(first["payment_method_id"])
    assert events.count("OFFER_ACCEPTED") == 1

    # Back another day with a new session: the card is shown, nothing is accepted again.
    frame = start_in_shop(shop, partner_customer_id)
    frame.get_by_role("heading", name="You already have your card").wait_for()
    assert frame.locator("#card-number").inner_text() == last4
    shop.screenshot("returning-cardholder")
    frame.get_by_role("button", name="Done").click()
    state, again, events = returning_completion(shop, 2)
    assert state == "IN_PROGRESS"
    assert again == {
        "customer_id": first["customer_id"],
        "partner_customer_id": partner_customer_id,
        "payment_method_id": None,
        "error_code": None,
    }
    assert "OFFER_ACCEPTED" not in events
    assert events == ["IN_PROGRESS", "CLOSED"]
    shop.assert_no_policy_violations()


def test_an_earlier_rejection_is_shown_but_not_reported_again(shop: Shop) -> None:
    partner_customer_id = f"DEMO-DECLINED-{secrets.token_hex(3).upper()}"
    frame = start_in_shop(shop, partner_customer_id, last_name="Smith")
    review_profile(frame)
    verify_phone(frame)
    apply_for_a_card(frame)
    frame.get_by_role("heading", name="We can't approve your application").wait_for()
    frame.get_by_role("button", name="Done").click()
    assert returning_completion(shop, 1)[0] == "REJECTED"

    frame = start_in_shop(shop, partner_customer_id, last_name="Smith")
    frame.get_by_role("heading", name="We can't approve your application").wait_for()
    frame.get_by_role("button", name="Done").click()
    state, metadata, events = returning_completion(shop, 2)
    assert state == "IN_PROGRESS"
    assert_ids_only(metadata)
    assert events == ["IN_PROGRESS", "CLOSED"]


def test_get_start_consumes_nothing(browser_server: Server, new_context: Any) -> None:
    created = httpx.post(
        f"{browser_server.base_url}/demo/session", json={"last_name": "approve"}
    ).json()
    secret = created["client_secret"]
    _REGISTRY.remember(secret)
    url = f"{browser_server.base_url}/start?client_secret={secret}"
    for _ in range(2):
        assert httpx.get(url).status_code == 200
    page = new_context().new_page()
    page.goto(url)
    page.get_by_role("heading", name="Review your details").wait_for()
    assert "client_secret" not in page.evaluate("location.href")
    # Opened directly (no shell), the page offers nothing that would close it.
    assert page.get_by_role("button", name="Close").count() == 0


def test_spanish_when_the_customer_prefers_it(
    browser_server: Server, new_context: Any, request: pytest.FixtureRequest
) -> None:
    key = browser_server.api_key()
    created = httpx.post(
        f"{browser_server.base_url}/v2/customer_sessions",
        auth=(key, ""),
        json={
            "partner_customer_id": "CUST_ES_1",
            "customer_history": {
                "first_name": "Lucía",
                "last_name": "approve",
                "phone": "+14155552671",
                "preferred_language": "es",
            },
        },
    )
    assert created.status_code == 200, created.text
    secret = created.json()["client_secret"]
    _REGISTRY.remember(secret)
    page = new_context(locale="en-US", viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{browser_server.base_url}/start?client_secret={secret}")
    page.get_by_role("heading", name="Revisa tus datos").wait_for()
    assert page.evaluate("document.documentElement.lang") == "es"
    assert page.get_by_label("Nombre", exact=True).input_value() == "Lucía"
    assert page.get_by_label("Fecha de nacimiento").is_visible()
    backend = request.node.callspec.params["browser_server"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{backend}-spanish.png"), full_page=True)


# -- sandbox test outcomes (a test_outcome parameter, or a fault the partner declared) -----------
TEST_OUTCOMES = [
    "IN_PROGRESS",
    "ERROR:INVALID_CLIENT_SECRET",
    "ERROR:NETWORK_CONNECTION_FAILED",
    "ERROR:SERVER_ERROR",
    "ERROR:TIMEOUT_ERROR",
    "ERROR:UNKNOWN_ERROR",
]
ERROR_TEXTS = {
    "INVALID_CLIENT_SECRET": "already used",
    "NETWORK_CONNECTION_FAILED": "could not reach our server",
    "SERVER_ERROR": "Our server had a problem",
    "TIMEOUT_ERROR": "took too long",
    "UNKNOWN_ERROR": "Something unexpected happened",
}


def test_each_test_outcome_reaches_native_shells_once_with_the_four_keys(
    browser_server: Server, new_context: Any
) -> None:
    key = browser_server.api_key()
    for outcome in TEST_OUTCOMES:
        partner_customer_id = f"CUST_OUTCOME_{secrets.token_hex(3)}"
        created = httpx.post(
            f"{browser_server.base_url}/v2/customer_sessions",
            auth=(key, ""),
            json={"partner_customer_id": partner_customer_id},
        )
        secret = created.json()["client_secret"]
        _REGISTRY.remember(secret)
        context = new_context()
        context.add_init_script(NATIVE_BRIDGES)
        page = context.new_page()
        page.goto(f"{browser_server.base_url}/start?client_secret={secret}&test_outcome={outcome}")
        state, _, code = outcome.partition(":")
        if state == "ERROR":
            page.get_by_role("heading", name="Something went wrong").wait_for()
            assert ERROR_TEXTS[code] in page.locator("#error-text").inner_text()
            page.get_by_role("button", name="Close").click()
            heard = page.evaluate("window.heard")
            nulls = dict.fromkeys(("customer_id", "partner_customer_id", "payment_method_id"))
            error = {
                "event_name": "ERROR",
                "source": "imprint_web_app",
                **nulls,
                "error_code": code,
            }
            for shell in ("ios", "android"):
                assert heard[shell][1:] == [
                    error,
                    {
                        "event_name": "CLOSED",
                        "source": "imprint_web_app",
                        **nulls,
                        "error_code": None,
                    },
                ], (outcome, heard[shell])
                assert native_completion(heard[shell]) == ("ERROR", {**nulls, "error_code": code})
            # It ended before the exchange: the secret is still unspent.
            exchanged = httpx.post(
                f"{browser_server.base_url}/v2/client/exchange", json={"client_secret": secret}
            )
            assert exchanged.status_code == 200, exchanged.text
            _REGISTRY.remember(exchanged.json()["access_token"])
        else:
            page.get_by_role("heading", name="We are reviewing your application").wait_for()
            page.get_by_role("button", name="Done").click()
            heard = page.evaluate("window.heard")
            customer_id = heard["ios"][1]["customer_id"]
            assert UUID_RE.match(customer_id)
            ids = {
                "customer_id": customer_id,
                "partner_customer_id": partner_customer_id,
                "payment_method_id": None,
                "error_code": None,
            }
            assert [m.get("event_name") for m in heard["ios"][1:]] == [
                "IN_PROGRESS",
                "IN_PROGRESS",
                "CLOSED",
            ]
            assert native_completion(heard["ios"]) == ("IN_PROGRESS", ids)
            # Android documents null metadata for IN_PROGRESS, and hears none.
            assert [m.get("event_name") for m in heard["android"][1:]] == ["CLOSED"]
            assert native_completion(heard["android"]) == ("IN_PROGRESS", None)
        context.close()


@pytest.fixture
def sandbox_faults(browser_server: Server) -> Iterator[str]:
    """The sandbox partner's key (the demo shop's partner), its faults removed afterwards."""
    key = browser_server.api_key()
    yield key
    faults_url = f"{browser_server.base_url}/v2/test_helpers/faults"
    for fault in httpx.get(faults_url, auth=(key, "")).json()["data"]:
        httpx.delete(f"{faults_url}/{fault['id']}", auth=(key, ""))


def test_a_declared_outcome_completes_the_web_sdk_once_per_start(
    shop: Shop, sandbox_faults: str
) -> None:
    faults_url = f"{shop.server.base_url}/v2/test_helpers/faults"
    for count, outcome in enumerate(TEST_OUTCOMES, start=1):
        declared = httpx.post(
            faults_url,
            auth=(sandbox_faults, ""),
            json={"kind": "hosted_outcome", "outcome": outcome},
        )
        assert declared.status_code == 200, declared.text
        partner_customer_id = f"DEMO-OUTCOME-{secrets.token_hex(3).upper()}"
        frame = start_in_shop(shop, partner_customer_id)
        state, _, code = outcome.partition(":")
        if state == "ERROR":
            frame.get_by_role("heading", name="Something went wrong").wait_for()
            assert ERROR_TEXTS[code] in frame.locator("#error-text").inner_text()
            frame.get_by_role("button", name="Close").click()
        else:
            frame.get_by_role("heading", name="We are reviewing your application").wait_for()
            frame.get_by_role("button", name="Done").click()
        completed, metadata, events = returning_completion(shop, count)
        assert completed == state, outcome
        assert set(metadata) == METADATA_KEYS
        if state == "ERROR":
            assert metadata == {**dict.fromkeys(METADATA_KEYS), "error_code": code}
            assert events == ["ERROR", "CLOSED"]
        else:
            assert metadata["partner_customer_id"] == partner_customer_id
            assert_ids_only(metadata)
            assert events == ["IN_PROGRESS", "IN_PROGRESS", "CLOSED"]
    # Each was used by its start, and the next start is an ordinary one.
    listed = httpx.get(faults_url, auth=(sandbox_faults, "")).json()["data"]
    assert [f["remaining"] for f in listed] == [0] * len(TEST_OUTCOMES)
    frame = start_in_shop(shop, f"DEMO-OUTCOME-{secrets.token_hex(3).upper()}")
    frame.get_by_role("heading", name="Review your details").wait_for()
    shop.screenshot("after-test-outcomes")
    shop.assert_no_policy_violations()


def test_no_secret_code_or_credential_reaches_the_server_log(browser_server: Server) -> None:
    """Runs last for each server: everything the browsers did is in its log by now."""
    log = browser_server.stderr()
    assert "GET /start 200" in log
    issued = [c for c in _REGISTRY.issued if c.startswith(("ics_", "ict_", "isk_"))]
    assert issued
    leaked = [c[:8] for c in issued for form in _REGISTRY.forms(c) if form in log]
    assert leaked == []
    assert SANDBOX_CODE not in log
    for line in log.splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("path") == "/start":
            assert "client_secret" in entry["query_keys"]
            assert "?" not in entry["msg"]
