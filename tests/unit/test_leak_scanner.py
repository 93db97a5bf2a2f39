"""The leak sweep's scanner agrees with a plain substring search; its forms cover each encoding."""

from __future__ import annotations

import base64
import random
import re
import string
from urllib.parse import quote

import pytest

from leaks import LeakScanner, credential_forms, kind_of, label

ALPHABET = string.ascii_letters + string.digits + '_-+/=%\\.:" \n'


def credential(rng: random.Random, prefix: str) -> str:
    body = "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(43))
    return prefix + body


@pytest.mark.parametrize("seed", range(20))
def test_scanner_finds_exactly_what_a_substring_search_finds(seed: int) -> None:
    rng = random.Random(seed)
    issued = [credential(rng, rng.choice(["isk_test_", "ict_", "x"])) for _ in range(30)]
    planted = rng.sample(issued, 10)
    pieces = ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 300)))]
    for value in planted:
        pieces.append(rng.choice(sorted(credential_forms(value))))
        pieces.append("".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40))))
    text = "".join(pieces)
    scanner = LeakScanner(issued)
    naive = {
        label(kind_of(value), value)
        for value in issued
        if any(form in text for form in credential_forms(value))
    }
    assert scanner.find(text) == naive
    assert {label(kind_of(v), v) for v in planted} <= naive


def test_every_encoding_of_a_key_is_found_and_nothing_else() -> None:
    rng = random.Random(1)
    key, other = credential(rng, "isk_test_"), credential(rng, "isk_test_")
    scanner = LeakScanner([key, other])
    expected = {label("api key", key)}
    for lead in (b"", b"x", b"xy"):
        encoded = base64.b64encode(lead + f"{key}:".encode()).decode()
        assert scanner.find(f"Basic {encoded}") == expected
        assert scanner.find(base64.urlsafe_b64encode(lead + key.encode()).decode()) == expected
    signing = "whsec_" + "K1+Zq/9x" * 4 + "W2v8Lm=="
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(signing, safe=""))
    assert lower_hex != quote(signing, safe="")
    assert LeakScanner([signing]).find(f"url={lower_hex}") == {label(kind_of(signing), signing)}
    assert scanner.find("k=" + key.removeprefix("isk_test_")) == expected
    assert scanner.find(key[:-1]) == set()  # a truncated key is not this key
    assert scanner.find("isk_test_[REDACTED]") == set()


def test_codes_count_only_next_to_their_name_or_as_a_whole_cell() -> None:
    scanner = LeakScanner([], {"one-time code": ["493817"]})
    found = {label("one-time code", "493817")}
    for leaked in (
        '{"code":"493817"}',
        '{\\"code\\": \\"493817\\"}',
        "code=493817&x=1",
        "otp%3D493817",
        "verification_code: 493817",
        base64.b64encode(b'{"code":"493817"}').decode(),
    ):
        assert scanner.find(leaked) == found, leaked
    for innocent in ('"ts":1744938171234', "req_a493817f", "code=4938170", '"status_code":200'):
        assert scanner.find(innocent) == set(), innocent
    assert scanner.find_in_cells({"493817", "x"}) == found
    assert scanner.find_in_cells({"4938171"}) == set()


def test_the_registry_shows_counts_never_the_secrets_it_holds() -> None:
    """Regression: a failing sweep guard printed the whole registry, credentials included."""
    from conftest import LeakRegistry

    registry = LeakRegistry()
    registry.remember("isk_test_" + "S" * 43)
    registry.remember_code("123456")
    shown = repr(registry)
    assert "isk_test_" not in shown
    assert "123456" not in shown
    assert shown.startswith("LeakRegistry(1 credentials, 1 codes,")
