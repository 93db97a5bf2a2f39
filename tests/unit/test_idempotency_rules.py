"""Idempotency keys' pure rules: key format, request fingerprints, secrets cut out and restored."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from imprint_sessions.credentials import SecretBox, mint_api_key
from imprint_sessions.domain import idempotency
from imprint_sessions.errors import Conflict, InvalidRequest
from imprint_sessions.storage.records import StoredResponse

OLD_MASTER = b"old-master-key-" + b"o" * 32
NEW_MASTER = b"new-master-key-" + b"n" * 32


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([NEW_MASTER])


def session_id() -> str:
    return str(uuid.uuid4()).upper()


@pytest.mark.parametrize("key", ["a", "k" * 255, "550e8400-e29b-41d4-a716-446655440000", "a b~!"])
def test_printable_ascii_keys_up_to_255_characters_are_accepted(key: str) -> None:
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "a\tb", "a\nb", "\x7f", "日本"])
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        idempotency.check_key(key)
    assert raised.value.details == ["idempotency-key: must be 1 to 255 printable ASCII characters"]


def test_request_fingerprint_covers_method_path_and_every_body_byte(box: SecretBox) -> None:
    base = box.request_fingerprint("POST", "/v2/customer_sessions", b"{}")
    assert base == box.request_fingerprint("POST", "/v2/customer_sessions", b"{}")
    assert len(base) == 64
    others = {
        box.request_fingerprint("PUT", "/v2/customer_sessions", b"{}"),
        box.request_fingerprint("POST", "/v2/customers", b"{}"),
        box.request_fingerprint("POST", "/v2/customer_sessions", b"{ }"),
        box.request_fingerprint("POST", "/v2/customer_sessions", b""),
    }
    assert base not in others
    assert len(others) == 4


def test_request_fingerprint_is_keyed_so_a_stored_one_cannot_be_brute_forced(
    box: SecretBox,
) -> None:
    """Regression: an unkeyed SHA-256 of ``{"ssn": ...}`` let anyone with the table recover the
    SSN by trying all 10^9 of them."""
    body = b'{"ssn": "123-45-6789"}'
    unkeyed = hashlib.sha256(b"POST /v2/customers/X\n" + body).hexdigest()
    keyed = box.request_fingerprint("POST", "/v2/customers/X", body)
    assert keyed != unkeyed
    assert keyed != SecretBox([OLD_MASTER]).request_fingerprint("POST", "/v2/customers/X", body)


def test_client_secrets_are_cut_out_and_restored_in_place(box: SecretBox) -> None:
    first, second = session_id(), session_id()
    secret_1 = box.client_secret(first, box.current_kid)
    secret_2 = box.client_secret(second, box.current_kid)
    assert secret_1 is not None
    assert secret_2 is not None
    body = json.dumps(
        {"id": first, "client_secret": secret_1, "note": "é ü 日本", "more": [secret_2, secret_1]},
        ensure_ascii=False,
    )
    text, slots = idempotency.cut_client_secrets(box, body)
    assert "ics_" not in text
    assert slots is not None
    placed = json.loads(slots)
    assert [slot[1:] for slot in placed] == [
        [box.current_kid, sid] for sid in (first, second, first)
    ]
    assert placed[0][0] == body.index(secret_1)
    assert text[placed[0][0] - 1 : placed[0][0] + 1] == '""'
    assert idempotency.restore_client_secrets(box, text, slots) == body


def test_a_body_without_secrets_is_kept_as_is(box: SecretBox) -> None:
    assert idempotency.cut_client_secrets(box, '{"a":1}') == ('{"a":1}', None)
    assert idempotency.restore_client_secrets(box, '{"a":1}', None) == '{"a":1}'


def test_look_alike_strings_that_are_not_genuine_secrets_stay(box: SecretBox) -> None:
    fake = "ics_" + box.current_kid + "_" + "A" * 64  # the right shape, a wrong MAC
    body = json.dumps({"metadata": {"echo": fake}})
    assert idempotency.cut_client_secrets(box, body) == (body, None)


def test_a_secret_under_a_retired_master_key_cannot_be_replayed() -> None:
    old_box = SecretBox([OLD_MASTER])
    secret = old_box.client_secret(session_id(), old_box.current_kid)
    text, slots = idempotency.cut_client_secrets(old_box, f'{{"client_secret":"{secret}"}}')
    with pytest.raises(Conflict) as raised:
        idempotency.restore_client_secrets(SecretBox([NEW_MASTER]), text, slots)
    assert raised.value.type == "IDEMPOTENCY_KEY_EXPIRED"
    # While the old key is still listed, the replay works.
    rotated = SecretBox([NEW_MASTER, OLD_MASTER])
    assert idempotency.restore_client_secrets(rotated, text, slots) == (
        f'{{"client_secret":"{secret}"}}'
    )


class RecordingRepos:
    def __init__(self) -> None:
        self.recorded: list[StoredResponse] = []

    async def complete_idempotency_key(
        self, *args: Any, response: StoredResponse, **_: Any
    ) -> bool:
        self.recorded.append(response)
        return True


async def test_complete_records_no_secret_and_refuses_other_credentials(box: SecretBox) -> None:
    repos = RecordingRepos()
    claim = idempotency.Claim(partner_id="P", key="k", claimed_at=1)
    secret = box.client_secret(session_id(), box.current_kid)
    await idempotency.complete(
        repos,  # type: ignore[arg-type]
        claim,
        box=box,
        status=200,
        headers=[("content-type", "application/json")],
        body=f'{{"client_secret":"{secret}"}}'.encode(),
    )
    [stored] = repos.recorded
    assert stored.body == '{"client_secret":""}'
    assert json.loads(stored.headers_json) == [["content-type", "application/json"]]
    with pytest.raises(RuntimeError, match="credential"):
        await idempotency.complete(
            repos,  # type: ignore[arg-type]
            claim,
            box=box,
            status=200,
            headers=[],
            body=f'{{"api_key":"{mint_api_key("sandbox")}"}}'.encode(),
        )
    assert len(repos.recorded) == 1
