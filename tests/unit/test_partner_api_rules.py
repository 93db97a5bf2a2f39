"""Pure rules behind the partner API's issue-5 endpoints: SSN hashing, metadata merge, states."""

from __future__ import annotations

import pytest

from imprint_sessions.credentials import SecretBox, normalize_ssn
from imprint_sessions.domain.customer_sessions import customer_session_state
from imprint_sessions.domain.customers import merge_metadata
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.records import CustomerSession

MASTER = b"m" * 40
OTHER = b"o" * 40
PARTNER = "0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"


@pytest.mark.parametrize("ssn", ["123456789", "123-45-6789"])
def test_ssn_spellings_normalise_to_nine_digits(ssn: str) -> None:
    assert normalize_ssn(ssn) == "123456789"


@pytest.mark.parametrize(
    "ssn", ["12345678", "1234567890", "123-456-789", "12-345-6789", "١٢٣٤٥٦٧٨٩", "123 45 6789", ""]
)
def test_malformed_ssn_is_refused(ssn: str) -> None:
    with pytest.raises(ValueError, match="9-digit"):
        normalize_ssn(ssn)


def test_ssn_hash_is_keyed_scoped_to_the_partner_and_spelling_blind() -> None:
    box = SecretBox([MASTER])
    digest = box.ssn_hash(PARTNER, "123-45-6789")
    assert digest == box.ssn_hash(PARTNER, "123456789")
    assert digest == box.ssn_hash(PARTNER.lower(), "123456789")
    assert digest != SecretBox([OTHER]).ssn_hash(PARTNER, "123456789")
    assert digest != box.ssn_hash("1" + PARTNER[1:], "123456789")
    assert "6789" not in digest


def test_ssn_lookup_covers_every_configured_master_key() -> None:
    rotated = SecretBox([OTHER, MASTER])
    hashes = rotated.ssn_lookup_hashes(PARTNER, "123456789")
    assert hashes == [
        SecretBox([OTHER]).ssn_hash(PARTNER, "123456789"),
        SecretBox([MASTER]).ssn_hash(PARTNER, "123456789"),
    ]


def test_metadata_merge_sets_keeps_and_deletes() -> None:
    merged = merge_metadata({"a": 1, "b": 2}, {"b": "", "c": None, "d": ""})
    assert merged == {"a": 1, "c": None}


def test_metadata_merge_over_the_limits_names_metadata() -> None:
    with pytest.raises(InvalidRequest) as raised:
        merge_metadata({f"k{i}": i for i in range(50)}, {"x": 1})
    assert raised.value.details == ["metadata: must have at most 50 keys"]


def session(**times: int | None) -> CustomerSession:
    values: dict[str, int | None] = {
        "created_at": 0,
        "expires_at": 100,
        "consumed_at": None,
        "revoked_at": None,
    }
    values.update(times)
    return CustomerSession(
        id="S",
        partner_id="P",
        customer_id="C",
        secret_key_id="k",
        source=None,
        metadata_json=None,
        **values,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("times", "now", "state"),
    [
        ({}, 99, "active"),
        ({}, 100, "expired"),
        ({"consumed_at": 5}, 99, "consumed"),
        ({"consumed_at": 5}, 500, "consumed"),
        ({"consumed_at": 5, "revoked_at": 6}, 99, "revoked"),
        ({"revoked_at": 6}, 500, "revoked"),
    ],
)
def test_session_state_takes_the_first_reason_that_applies(
    times: dict[str, int], now: int, state: str
) -> None:
    assert customer_session_state(session(**times), now=now) == state
