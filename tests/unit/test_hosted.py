"""The hosted pages' pure logic: language choice, origins, and the Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imprint_sessions.hosted import i18n
from imprint_sessions.hosted.pages import (
    ASSETS,
    STATIC_DIR,
    content_security_policy,
    frame_ancestors,
    parent_origin_allowed,
    render,
)


@pytest.mark.parametrize(
    ("preferred", "accept_language", "expected"),
    [
        ("es", None, "es"),
        ("es-MX", "en", "es"),
        ("fr", "es-ES,es;q=0.9", "es"),
        (None, "fr-FR,fr;q=0.9,es;q=0.8,en;q=0.7", "es"),
        (None, "en;q=0.2,es;q=0.9", "es"),
        (None, "es;q=0", "en"),
        (None, "de", "en"),
        (None, "es;q=nonsense, en", "en"),
        (None, None, "en"),
    ],
)
def test_language_is_the_customers_then_the_browsers_then_english(
    preferred: str | None, accept_language: str | None, expected: str
) -> None:
    assert i18n.pick_language(preferred, accept_language) == expected


def test_both_languages_have_every_string() -> None:
    assert set(i18n.STRINGS["en"]) == set(i18n.STRINGS["es"])
    assert all(text.strip() for strings in i18n.STRINGS.values() for text in strings.values())


def test_every_string_the_page_and_its_script_use_exists() -> None:
    """A key used by the page or app.js but missing from i18n would show up blank."""
    config = {"sandbox": True, "parentOrigin": None, "embed": None, "language": "en"}
    page = render("start.html", lang="en", t=i18n.translator("en"), config=config)
    script = (STATIC_DIR / "app.js").read_text()
    used = set(re.findall(r'data-i18n(?:-aria-label)?="([a-z_A-Z-]+)"', page))
    used |= set(re.findall(r'text\("([a-z_]+)"\)', script))
    for statement in re.findall(r"dataset\.i18n = ([^;]+);", script):
        used |= set(re.findall(r'"([a-z_]+)"', statement))
    assert len(used) > 60
    assert used <= set(i18n.STRINGS["en"]), used - set(i18n.STRINGS["en"])


def test_frame_ancestors_in_production_are_self_and_the_partners_valid_origins() -> None:
    sources = frame_ancestors(
        ["https://shop.example.com", "https://evil.example; script-src *", "http://a.test:8080"],
        sandbox=False,
    )
    assert sources == "'self' https://shop.example.com http://a.test:8080"
    assert frame_ancestors(None, sandbox=False) == "'self'"


def test_frame_ancestors_in_the_sandbox_add_any_localhost_port() -> None:
    sources = frame_ancestors([], sandbox=True).split()
    assert sources[0] == "'self'"
    assert {"http://localhost:*", "http://127.0.0.1:*"} <= set(sources)


def test_the_policy_forbids_inline_code_and_foreign_sources() -> None:
    policy = content_security_policy("'self'")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert "unsafe" not in policy


@pytest.mark.parametrize(
    ("origin", "sandbox", "allowed"),
    [
        ("https://shop.example.com", False, True),
        ("https://other.example.com", False, False),
        ("http://localhost:5173", False, False),
        ("http://localhost:5173", True, True),
        ("http://127.0.0.1:8000", True, True),
        ("https://service.example", False, True),  # the service's own pages
        ("https://localhost.evil.example", True, False),
    ],
)
def test_parent_origin_must_be_allowed_to_frame_the_page(
    origin: str, sandbox: bool, allowed: bool
) -> None:
    assert (
        parent_origin_allowed(
            origin,
            partner_origins=["https://shop.example.com"],
            sandbox=sandbox,
            own_origin="https://service.example",
        )
        is allowed
    )


def test_asset_urls_carry_the_content_hash() -> None:
    url = ASSETS.url("app.js")
    filename = url.rsplit("/", 1)[1]
    found = ASSETS.find(filename)
    assert found is not None
    assert found[1] is True  # immutable
    assert ASSETS.find("app.000000000000.js") is None
    assert ASSETS.find("app.js") == (ASSETS.get("app.js"), False)


def test_no_template_or_script_uses_inline_code_the_policy_would_block() -> None:
    hosted = Path(STATIC_DIR).parent
    for template in hosted.glob("templates/*.html"):
        source = template.read_text()
        assert " style=" not in source, template.name
        assert "<style" not in source, template.name
        assert not re.search(r"\son[a-z]+=", source), template.name  # inline event handlers
        for tag in source.split("<script")[1:]:
            opening = tag.split(">", 1)[0]
            assert " src=" in opening or 'type="application/json"' in opening, template.name
    for script in STATIC_DIR.glob("*.js"):
        source = script.read_text()
        for forbidden in ("eval(", "new Function", "innerHTML", "localStorage", "document.cookie"):
            assert forbidden not in source, f"{script.name} uses {forbidden}"
