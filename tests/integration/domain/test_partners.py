"""domain/partners.py on a real database: what a new partner may be, every problem named at once;
the partners and keys the admin CLI and the demo shop read, revoke and bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import _REGISTRY, TEST_SECRET_KEY, DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain import partners
from imprint_sessions.domain.api_keys import ApiKeyAuthenticator
from imprint_sessions.domain.partners import MAX_MERCHANT_KEY_CHARS
from imprint_sessions.errors import ApiKeyConflict, InvalidRequest
from imprint_sessions.storage.db import open_database


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


# -- what the admin CLI and the demo shop ask (they reach the store only through these) ---------


async def test_an_operator_revokes_a_partners_last_key_which_the_partner_itself_may_not(
    harness: Harness,
) -> None:
    repos, clock = harness.services.database.repositories, harness.services.clock
    partner_id, api_key = await harness.new_partner()
    (key,) = await partners.list_api_keys(repos, partner_id=partner_id.lower())
    principal = await harness.services.authenticator.authenticate(repos, api_key)
    with pytest.raises(ApiKeyConflict):  # the partner API's rule: not the last active key
        async with harness.services.database.unit_of_work() as uow:
            await partners.delete_partner_api_key(
                uow.repositories, clock=clock, principal=principal, api_key_id=key.id
            )
    # The operator's: any active key, the id read as the partner API reads it (any spelling).
    assert await partners.revoke_api_key(repos, clock=clock, api_key_id=key.id.lower())
    (revoked,) = await partners.list_api_keys(repos, partner_id=partner_id)
    assert revoked.revoked_at == clock.now_ms()
    assert not await partners.revoke_api_key(repos, clock=clock, api_key_id=key.id)
    assert not await partners.revoke_api_key(repos, clock=clock, api_key_id="not-a-key-id")


async def test_a_partner_is_found_by_any_spelling_of_its_id_and_a_non_id_finds_nothing(
    harness: Harness,
) -> None:
    repos = harness.services.database.repositories
    partner_id, _ = await harness.new_partner()
    found = await partners.get_partner(repos, partner_id=partner_id.lower())
    assert found is not None
    assert found.id == partner_id
    assert found in await partners.list_partners(repos)
    assert await partners.get_partner(repos, partner_id="not-an-id") is None
    assert await partners.list_api_keys(repos, partner_id="not-an-id") == []


async def test_the_demo_shop_finds_the_sandbox_partner_or_creates_it_once(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    repos, clock = harness.services.database.repositories, harness.services.clock
    first = await partners.sandbox_partner(repos, clock=clock)
    again = await partners.sandbox_partner(repos, clock=clock)
    assert first == again
    assert first.name == partners.SANDBOX_PARTNER_NAME
    count = inspector.scalar("SELECT count(*) FROM partners WHERE name = ?", first.name)
    assert count == 1


async def test_serve_bootstraps_a_sandbox_partner_and_key_only_on_a_database_without_partners(
    isolated_database_url: str, tmp_path: Path, box: SecretBox
) -> None:
    settings = Settings(
        env="sandbox",
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        database_url=isolated_database_url,
    )
    clock = ManualClock(1_739_473_687_000)
    database = await open_database(settings)
    try:
        repos = database.repositories
        issued = await partners.bootstrap_sandbox(repos, clock=clock, box=box)
        assert issued is not None
        _REGISTRY.remember(issued.api_key)
        (partner,) = await partners.list_partners(repos)
        assert partner.name == partners.SANDBOX_PARTNER_NAME
        assert issued.record.partner_id == partner.id
        assert issued.api_key.startswith("isk_test_")
        principal = await ApiKeyAuthenticator(box).authenticate(repos, issued.api_key)
        assert principal.partner_id == partner.id
        # Started again: a partner exists, so nothing is made and no key is shown.
        assert await partners.bootstrap_sandbox(repos, clock=clock, box=box) is None
        assert await partners.list_partners(repos) == [partner]
        assert len(await partners.list_api_keys(repos, partner_id=partner.id)) == 1
    finally:
        await database.close()
