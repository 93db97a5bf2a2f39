"""Signing a webhook body: Imprint's ``X-IMPRINT-HMAC-SIGNATURE`` and the Standard Webhooks headers.

- ``X-IMPRINT-HMAC-SIGNATURE: t=<unix ms>,s=<hex HMAC-SHA256(key, "<t>.<raw body>")>`` (the
  reference, section 5). While a rotated-out secret is still in its grace period, one ``s=`` per
  live secret follows, newest first: accept the request if any matches.
- Standard Webhooks: ``webhook-id`` (the event id, the same on every retry), ``webhook-timestamp``
  (unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256(key, "<id>.<ts>.<body>")>``,
  space-separated, one per live secret), verifiable with the ``standardwebhooks`` library.

The HMAC key is the secret's bytes: the base64 after ``whsec_``, decoded (as Standard Webhooks
defines it); the same key signs both headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from imprint_sessions.credentials import WEBHOOK_SECRET_PREFIX

IMPRINT_SIGNATURE_HEADER = "X-IMPRINT-HMAC-SIGNATURE"


def signing_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_...`` secret stands for."""
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def imprint_signature(key: bytes, timestamp_ms: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``"<t>.<raw body>"``."""
    return hmac.new(key, str(timestamp_ms).encode() + b"." + body, hashlib.sha256).hexdigest()


def standard_signature(key: bytes, message_id: str, timestamp_s: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">``."""
    signed = f"{message_id}.{timestamp_s}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_headers(
    *, event_id: str, body: bytes, now_ms: int, secrets: list[str]
) -> dict[str, str]:
    """Every signature header for one attempt; ``secrets`` newest first (at least one)."""
    if not secrets:
        raise ValueError("at least one signing secret is required")
    keys = [signing_key(secret) for secret in secrets]
    timestamp_s = now_ms // 1000
    imprint = ",".join(f"s={imprint_signature(key, now_ms, body)}" for key in keys)
    return {
        IMPRINT_SIGNATURE_HEADER: f"t={now_ms},{imprint}",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": " ".join(
            standard_signature(key, event_id, timestamp_s, body) for key in keys
        ),
    }
