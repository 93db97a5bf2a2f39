"""Client access tokens and one-time-code hashes: format, tampering, expiry data, rotation."""

from __future__ import annotations

import re

from imprint_sessions.credentials import SecretBox, key_id, mint_otp_code, new_id
from imprint_sessions.logs import CLIENT_ACCESS_TOKEN_RE, redact

MASTER = b"m" * 40
OTHER = b"o" * 40


def mint(box: SecretBox, expires_at: int = 1_800_000_000_000) -> tuple[str, list[str]]:
    ids = [new_id(), new_id(), new_id()]
    token = box.client_token(
        customer_session_id=ids[0], customer_id=ids[1], partner_id=ids[2], expires_at=expires_at
    )
    return token, ids


def test_token_round_trips_its_claims() -> None:
    box = SecretBox([MASTER])
    token, (session, customer, partner) = mint(box, expires_at=1_234_567_890_123)
    claims = box.verify_client_token(token)
    assert claims is not None
    assert (claims.customer_session_id, claims.customer_id, claims.partner_id) == (
        session,
        customer,
        partner,
    )
    assert claims.expires_at == 1_234_567_890_123


def test_token_is_one_redactable_word() -> None:
    token, _ = mint(SecretBox([MASTER]))
    assert re.fullmatch(r"ict_[A-Za-z0-9_-]{123}", token)
    assert CLIENT_ACCESS_TOKEN_RE.fullmatch(token)
    assert redact(f"Bearer-less {token} end") == "Bearer-less [REDACTED] end"


def test_every_altered_character_is_refused() -> None:
    box = SecretBox([MASTER])
    token, _ = mint(box)
    for position in range(4, len(token) - 1):  # the last character carries padding bits
        flipped = "A" if token[position] != "A" else "B"
        assert box.verify_client_token(token[:position] + flipped + token[position + 1 :]) is None


def test_malformed_tokens_are_refused() -> None:
    box = SecretBox([MASTER])
    token, _ = mint(box)
    for candidate in (None, "", "ict_", token[:-4], token + "AAAA", "isk_test_" + "A" * 43):
        assert box.verify_client_token(candidate) is None


def test_token_from_another_master_key_is_refused() -> None:
    token, _ = mint(SecretBox([OTHER]))
    assert SecretBox([MASTER]).verify_client_token(token) is None


def test_token_minted_before_rotation_still_verifies() -> None:
    token, _ = mint(SecretBox([OTHER]))
    assert SecretBox([MASTER, OTHER]).verify_client_token(token) is not None
    assert key_id(OTHER) != key_id(MASTER)


def test_otp_codes_are_six_uniformish_digits() -> None:
    codes = [mint_otp_code() for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(set(codes)) > 1900
    assert {code[0] for code in codes} == set("0123456789")


def test_otp_hash_is_keyed_and_bound_to_its_challenge() -> None:
    box = SecretBox([MASTER])
    challenge = new_id()
    stored = box.otp_code_hash(challenge, "123456")
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert box.otp_code_matches(challenge, "123456", stored)
    assert not box.otp_code_matches(challenge, "123457", stored)
    assert not box.otp_code_matches(new_id(), "123456", stored)
    assert stored != SecretBox([OTHER]).otp_code_hash(challenge, "123456")
    assert SecretBox([OTHER, MASTER]).otp_code_matches(challenge, "123456", stored)
