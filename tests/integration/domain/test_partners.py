"""domain/partners.py on a real database: what a new partner may be, every problem named at once."""

from __future__ import annotations

import pytest

from conftest import DatabaseInspector, Harness
from imprint_sessions.domain import partners
from imprint_sessions.domain.partners import MAX_MERCHANT_KEY_CHARS
from imprint_sessions.errors import InvalidRequest


async def test_a_partner_with_every_field_wrong_is_refused_listing_each_and_stores_nothing(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    before = inspector.scalar("SELECT count(*) FROM partners")
    with pytest.raises(InvalidRequest) as refused:
        await partners.create_partner(
            harness.services.database.repositories,
            clock=harness.services.clock,
            name="   ",
            merchant_keys=["m-1", "m-1", "x" * (MAX_MERCHANT_KEY_CHARS + 1)],
            allowed_origins=["https://shop.example/checkout"],
        )
    assert refused.value.details == [
        "allowed_origins: each must be http(s)://host[:port], with no path",
        "name: must be 1 to 200 characters",
        "merchant_keys: must not repeat",
        f"merchant_keys: each must be 1 to {MAX_MERCHANT_KEY_CHARS} printable characters",
    ]
    assert inspector.scalar("SELECT count(*) FROM partners") == before


@pytest.mark.parametrize(
    ("name", "merchant_keys", "problem"),
    [
        ("x" * 201, [], "name: must be 1 to 200 characters"),
        ("shop", [""], "merchant_keys: each must be 1 to"),
        ("shop", ["tab\tkey"], "merchant_keys: each must be 1 to"),
    ],
)
async def test_one_wrong_field_is_the_only_problem_named(
    harness: Harness, name: str, merchant_keys: list[str], problem: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await partners.create_partner(
            harness.services.database.repositories,
            clock=harness.services.clock,
            name=name,
            merchant_keys=merchant_keys,
        )
    (detail,) = refused.value.details
    assert detail.startswith(problem)


async def test_origins_are_stored_once_each_as_browsers_spell_them(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner = await partners.create_partner(
        harness.services.database.repositories,
        clock=harness.services.clock,
        name="  shop  ",
        merchant_keys=["m-1"],
        allowed_origins=[
            "HTTPS://Shop.Example",
            "https://shop.example:443",
            "http://localhost:3000",
        ],
    )
    assert partner.name == "shop"
    assert partner.allowed_origins == ("https://shop.example", "http://localhost:3000")
    stored = inspector.scalar("SELECT name FROM partners WHERE id = ?", partner.id)
    assert stored == "shop"
