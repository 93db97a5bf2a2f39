"""Webhook signatures (both schemes) and signing secrets (retry rules: test_delivery_rules.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import TEST_SECRET_KEY
from imprint_sessions.credentials import SecretBox
from imprint_sessions.logs import REDACTED, WEBHOOK_SECRET_RE, redact
from imprint_sessions.webhooks.signing import signature_headers, signing_key

ENDPOINT_ID = "2EE24580-B97B-4949-A65C-929CCB9B9B8D"
EVENT_ID = "8D5C1A2B-3E4F-4A5B-9C6D-7E8F9A0B1C2D"
BODY = b'{"data":{"customer_id":"C","status":"REJECTED"},"id":"E","object":"APPLICATION"}'


def box() -> SecretBox:
    return SecretBox([TEST_SECRET_KEY.encode()])


def independent_imprint_check(secret: str, header: str, body: bytes) -> bool:
    """Verify ``X-IMPRINT-HMAC-SIGNATURE`` as a partner would, without the service's code."""
    parts = [p.split("=", 1) for p in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "s" and hmac.compare_digest(v, expected) for k, v in parts)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_webhook_secret_is_standard_webhooks_shaped_deterministic_and_redacted() -> None:
    secret = box().webhook_secret(ENDPOINT_ID, 1, box().current_kid)
    assert secret is not None
    assert WEBHOOK_SECRET_RE.fullmatch(secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert box().webhook_secret(ENDPOINT_ID, 1, box().current_kid) == secret
    assert box().webhook_secret(ENDPOINT_ID, 2, box().current_kid) != secret
    assert box().webhook_secret(EVENT_ID, 1, box().current_kid) != secret
    assert redact(f"secret is {secret}") == f"secret is {REDACTED}"


def test_a_webhook_secret_of_a_retired_master_key_cannot_be_made() -> None:
    assert box().webhook_secret(ENDPOINT_ID, 1, "00000000") is None


def test_signatures_verify_with_standardwebhooks_and_by_hand() -> None:
    secret = box().webhook_secret(ENDPOINT_ID, 1, box().current_kid)
    assert secret is not None
    headers = signature_headers(event_id=EVENT_ID, body=BODY, now_ms=now_ms(), secrets=[secret])
    assert Webhook(secret).verify(BODY, headers)["object"] == "APPLICATION"
    assert independent_imprint_check(secret, headers["X-IMPRINT-HMAC-SIGNATURE"], BODY)
    assert headers["webhook-id"] == EVENT_ID
    t = int(headers["X-IMPRINT-HMAC-SIGNATURE"].split(",")[0].removeprefix("t="))
    assert int(headers["webhook-timestamp"]) == t // 1000  # ms there, seconds here


def test_a_tampered_body_or_timestamp_fails_both_schemes() -> None:
    secret = box().webhook_secret(ENDPOINT_ID, 1, box().current_kid)
    assert secret is not None
    now = now_ms()
    headers = signature_headers(event_id=EVENT_ID, body=BODY, now_ms=now, secrets=[secret])
    tampered = BODY.replace(b"REJECTED", b"OFFER_ACCEPTED")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    assert not independent_imprint_check(secret, headers["X-IMPRINT-HMAC-SIGNATURE"], tampered)
    moved = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, moved)
    imprint = headers["X-IMPRINT-HMAC-SIGNATURE"].replace(f"t={now}", f"t={now - 1}")
    assert not independent_imprint_check(secret, imprint, BODY)


def test_during_a_rotation_both_secrets_sign_newest_first() -> None:
    old = box().webhook_secret(ENDPOINT_ID, 1, box().current_kid)
    new = box().webhook_secret(ENDPOINT_ID, 2, box().current_kid)
    assert old is not None
    assert new is not None
    headers = signature_headers(event_id=EVENT_ID, body=BODY, now_ms=now_ms(), secrets=[new, old])
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
        assert independent_imprint_check(secret, headers["X-IMPRINT-HMAC-SIGNATURE"], BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    t, first_s, _ = headers["X-IMPRINT-HMAC-SIGNATURE"].split(",")
    assert independent_imprint_check(new, f"{t},{first_s}", BODY)  # the first s= is the new one


def test_a_secret_that_does_not_sign_fails_verification() -> None:
    signer = box().webhook_secret(ENDPOINT_ID, 1, box().current_kid)
    other = box().webhook_secret(ENDPOINT_ID, 7, box().current_kid)
    assert signer is not None
    assert other is not None
    headers = signature_headers(event_id=EVENT_ID, body=BODY, now_ms=now_ms(), secrets=[signer])
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)
    assert not independent_imprint_check(other, headers["X-IMPRINT-HMAC-SIGNATURE"], BODY)
    assert signing_key(signer) != signing_key(other)
