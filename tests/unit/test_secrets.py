"""Credential minting and verification: formats, entropy, tampering, key rotation."""

from __future__ import annotations

import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from imprint_sessions.credentials import SecretBox, key_id, looks_like_api_key, mint_api_key, new_id

MASTER = b"m" * 40
OTHER = b"o" * 40
CLIENT_SECRET_FORMAT = re.compile(r"^ics_[0-9a-f]{8}_[A-Za-z0-9_-]{64}$")


def test_api_key_prefix_tells_sandbox_from_production() -> None:
    assert mint_api_key("sandbox").startswith("isk_test_")
    assert mint_api_key("production").startswith("isk_live_")
    assert looks_like_api_key(mint_api_key("production"))


def test_api_keys_do_not_repeat() -> None:
    keys = {mint_api_key("sandbox") for _ in range(10_000)}
    assert len(keys) == 10_000


def test_api_key_hash_is_keyed() -> None:
    key = mint_api_key("sandbox")
    assert SecretBox([MASTER]).api_key_hash(key) != SecretBox([OTHER]).api_key_hash(key)
    assert key not in SecretBox([MASTER]).api_key_hash(key)


def test_missing_and_malformed_keys_hash_to_values_that_never_match() -> None:
    box = SecretBox([MASTER])
    for candidate in (None, "", "garbage", "isk_test_short"):
        hashes = box.api_key_lookup_hashes(candidate)
        assert len(hashes) == 1
        assert not re.fullmatch(r"[0-9a-f]{64}", hashes[0])


def test_rotated_box_still_finds_keys_hashed_under_the_previous_master() -> None:
    key = mint_api_key("sandbox")
    stored = SecretBox([OTHER]).api_key_hash(key)
    assert stored in SecretBox([MASTER, OTHER]).api_key_lookup_hashes(key)


def test_client_secret_has_the_documented_format_and_round_trips() -> None:
    box = SecretBox([MASTER])
    session_id = new_id()
    secret = box.client_secret(session_id, box.current_kid)
    assert secret is not None
    assert CLIENT_SECRET_FORMAT.fullmatch(secret)
    assert box.verify_client_secret(secret) == session_id


def test_client_secret_is_deterministic_per_session_and_key() -> None:
    box = SecretBox([MASTER])
    session_id = new_id()
    assert box.client_secret(session_id, box.current_kid) == box.client_secret(
        session_id, box.current_kid
    )


def test_client_secret_from_another_master_key_is_refused() -> None:
    forged = SecretBox([OTHER]).client_secret(new_id(), key_id(OTHER))
    assert forged is not None
    assert SecretBox([MASTER]).verify_client_secret(forged) is None


def test_secret_minted_under_previous_key_verifies_after_rotation() -> None:
    old = SecretBox([OTHER])
    secret = old.client_secret(new_id(), old.current_kid)
    assert secret is not None
    assert SecretBox([MASTER, OTHER]).verify_client_secret(secret) is not None


def test_retired_key_cannot_rederive_its_secrets() -> None:
    assert SecretBox([MASTER]).client_secret(new_id(), key_id(OTHER)) is None


@given(st.integers(min_value=0, max_value=63), st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_in_a_secret_is_refused(position: int, flip: int) -> None:
    box = SecretBox([MASTER])
    secret = box.client_secret(str(uuid.UUID(int=12345)).upper(), box.current_kid)
    assert secret is not None
    head, body = secret[:13], secret[13:]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replaced = alphabet[(alphabet.index(body[position]) + flip) % 64]
    tampered = head + body[:position] + replaced + body[position + 1 :]
    if tampered != secret:
        assert box.verify_client_secret(tampered) is None


@given(st.text(max_size=120))
def test_arbitrary_text_is_never_a_valid_secret(candidate: str) -> None:
    assert SecretBox([MASTER]).verify_client_secret(candidate) is None


def test_ten_thousand_secrets_are_distinct() -> None:
    box = SecretBox([MASTER])
    secrets_seen = {box.client_secret(new_id(), box.current_kid) for _ in range(10_000)}
    assert len(secrets_seen) == 10_000


def test_ids_are_uppercase_uuid4() -> None:
    value = new_id()
    assert value == value.upper()
    assert uuid.UUID(value).version == 4
