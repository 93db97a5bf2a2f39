"""Origins as browsers spell them, and which are local."""

from __future__ import annotations

import pytest

from imprint_sessions.domain.origins import is_local_origin, normalise_origin


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("https://shop.example:8443", "https://shop.example:8443"),
        ("https://shop.example/", "https://shop.example"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ],
)
def test_origins_are_normalised(value: str, origin: str) -> None:
    assert normalise_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "",
        "null",
        "shop.example",
        "ftp://shop.example",
        "https://shop.example/path",
        "https://shop.example?x=1",
        "https://user@shop.example",
        "https://shop.example:99999",
        "https://shop.example:0",
        "https://sh op.example",
        "https://shop.example; script-src *",
    ],
)
def test_non_origins_are_refused(value: str) -> None:
    assert normalise_origin(value) is None


def test_local_origins() -> None:
    assert is_local_origin("http://localhost:3000")
    assert is_local_origin("https://127.0.0.1")
    assert not is_local_origin("http://localhost.evil.example")
    assert not is_local_origin("http://127.0.0.2")
