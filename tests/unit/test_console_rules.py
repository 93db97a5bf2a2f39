"""The console's pure rules: operator credentials and login tokens (format, keyed hashes, the
decoy for malformed ones), form tokens, and how customer details are masked."""

from __future__ import annotations

import pytest

from conftest import TEST_SECRET_KEY
from imprint_sessions.credentials import (
    SecretBox,
    mint_operator_credential,
    mint_operator_session_token,
)
from imprint_sessions.domain.console import mask_email, mask_name, mask_phone, mask_ssn
from imprint_sessions.domain.operators import NAME_RULE, _checked_name
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.logs import OPERATOR_CREDENTIAL_RE, OPERATOR_SESSION_RE, REDACTED, redact

BOX = SecretBox([TEST_SECRET_KEY.encode()])


def test_credentials_and_tokens_have_their_prefixes_and_are_redacted() -> None:
    credential, token = mint_operator_credential(), mint_operator_session_token()
    assert OPERATOR_CREDENTIAL_RE.fullmatch(credential)
    assert OPERATOR_SESSION_RE.fullmatch(token)
    line = redact(f"sign-in with {credential} then cookie {token}")
    assert credential not in line
    assert token not in line
    assert line.count(REDACTED) == 2


def test_a_genuine_credential_hashes_to_its_stored_form_under_every_key() -> None:
    credential = mint_operator_credential()
    rotated = SecretBox([b"new-master-key-" + b"y" * 32, TEST_SECRET_KEY.encode()])
    assert BOX.operator_credential_hash(credential) in rotated.operator_credential_lookup_hashes(
        credential
    )


@pytest.mark.parametrize(
    "candidate",
    [None, "", "ioc_short", "isk_test_" + "A" * 43, "ioc_" + "!" * 43],
)
def test_a_malformed_credential_or_token_matches_no_stored_hash(candidate: str | None) -> None:
    for hashes in (
        BOX.operator_credential_lookup_hashes(candidate),
        BOX.operator_session_lookup_hashes(candidate),
    ):
        assert len(hashes) == 1
        assert hashes[0].endswith("!")  # never a hex digest: matches nothing stored


def test_a_token_is_no_credential_and_a_credential_no_token() -> None:
    assert BOX.operator_credential_lookup_hashes("iot_" + "A" * 43)[0].endswith("!")
    assert BOX.operator_session_lookup_hashes("ioc_" + "A" * 43)[0].endswith("!")


def test_credential_and_token_hashes_are_keyed_apart() -> None:
    value = "ioc_" + "A" * 43
    assert BOX.operator_credential_hash(value) != BOX.operator_session_hash(value)


def test_form_tokens_belong_to_one_login() -> None:
    token = BOX.console_csrf_token("SESSION-1")
    assert BOX.console_csrf_matches("SESSION-1", token)
    assert not BOX.console_csrf_matches("SESSION-2", token)
    assert not BOX.console_csrf_matches("SESSION-1", None)
    assert not BOX.console_csrf_matches("SESSION-1", token[:-1])


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("grace.hopper@example.com", "g\u2022\u2022\u2022@example.com"),
        ("no-at-sign", "\u2022\u2022\u2022"),
        (None, None),
    ],
)
def test_emails_are_masked(value: str | None, masked: str | None) -> None:
    assert mask_email(value) == masked


def test_phones_ssns_and_names_are_masked() -> None:
    assert mask_phone("+14155550123") == "+1" + "\u2022" * 6 + "0123"
    assert mask_phone("+1234") == "\u2022" * 5
    assert mask_ssn("6789") == "\u2022\u2022\u2022-\u2022\u2022-6789"
    assert mask_ssn(None) is None
    assert mask_name("Grace", "Hopper") == "Grace H."
    assert mask_name(None, None) is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\there", "bell\x07"])
def test_an_operator_name_must_be_short_and_printable(name: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        _checked_name(name)
    assert raised.value.details == [NAME_RULE]
