"""Verifying a webhook request and reading its event: ``verify(payload, headers, secret)``.

Every request the service sends is signed twice with the endpoint's secret (``whsec_...``; the
HMAC key is the base64 after the prefix, decoded):

- ``X-IMPRINT-HMAC-SIGNATURE: t=<unix ms>,s=<hex HMAC-SHA256 of "<t>.<body>">``;
- Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (unix seconds) and
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``.

While a rotated-out secret is in its grace period each header carries one signature per live
secret (``s=...,s=...``; ``v1,... v1,...``): one that matches is enough. Pass the raw body, exactly
the bytes received, before any JSON parsing. A request passes when either scheme's signature
matches (compared in constant time) and its timestamp is within ``tolerance_seconds`` of now,
either way; anything else raises ``WebhookVerificationError``, whose text never holds the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from imprint_client.errors import WebhookVerificationError
from imprint_client.models import ApplicationEvent, Event, PaymentMethodEvent

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "Event", "verify"]

DEFAULT_TOLERANCE_SECONDS = 300
IMPRINT_SIGNATURE_HEADER = "x-imprint-hmac-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_EVENTS: dict[str, type[ApplicationEvent | PaymentMethodEvent]] = {
    "APPLICATION": ApplicationEvent,
    "PAYMENT_METHOD": PaymentMethodEvent,
}


def verify(
    payload: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Event:
    """The event a genuine webhook request carries; ``WebhookVerificationError`` otherwise.

    ``headers``: the request's headers, any case (a framework's mapping, or a dict). ``secret``:
    the endpoint's signing secret, as ``create`` or ``rotate_secret`` showed it.
    """
    if not isinstance(payload, bytes | bytearray):
        raise TypeError("payload must be the raw request body, as bytes")
    key = _signing_key(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    now = time.time()
    problems: list[str] = []
    checks = [
        _check_standard(key, payload, lowered, now, tolerance_seconds),
        _check_imprint(key, payload, lowered, now, tolerance_seconds),
    ]
    for outcome in checks:
        if outcome is None:
            return _event(bytes(payload))
        problems.append(outcome)
    raise WebhookVerificationError("webhook signature verification failed: " + "; ".join(problems))


def _signing_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX) if isinstance(secret, str) else ""
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError("secret must be the endpoint's signing secret (whsec_ + base64)")
    return key


def _fresh(timestamp_s: float, now: float, tolerance_seconds: int) -> bool:
    return abs(now - timestamp_s) <= tolerance_seconds


def _check_standard(
    key: bytes, payload: bytes, headers: dict[str, str], now: float, tolerance: int
) -> str | None:
    """``None`` when the Standard Webhooks headers verify, else why not."""
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if message_id is None or timestamp is None or signatures is None:
        return "no webhook-id, webhook-timestamp and webhook-signature headers"
    if not timestamp.isdigit():
        return "webhook-timestamp is not a unix time"
    if not _fresh(int(timestamp), now, tolerance):
        return "webhook-timestamp is outside the tolerance"
    signed = f"{message_id}.{timestamp}.".encode() + payload
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return None
    return "no webhook-signature matches"


def _check_imprint(
    key: bytes, payload: bytes, headers: dict[str, str], now: float, tolerance: int
) -> str | None:
    """``None`` when ``X-IMPRINT-HMAC-SIGNATURE`` verifies, else why not."""
    header = headers.get(IMPRINT_SIGNATURE_HEADER)
    if header is None:
        return "no X-IMPRINT-HMAC-SIGNATURE header"
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "s":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return "X-IMPRINT-HMAC-SIGNATURE has no single t=<unix ms>"
    (timestamp_ms,) = timestamps
    if not _fresh(int(timestamp_ms) / 1000, now, tolerance):
        return "X-IMPRINT-HMAC-SIGNATURE's t is outside the tolerance"
    expected = hmac.new(key, timestamp_ms.encode() + b"." + payload, hashlib.sha256).hexdigest()
    if any(hmac.compare_digest(s.encode(), expected.encode()) for s in signatures):
        return None
    return "no X-IMPRINT-HMAC-SIGNATURE s= matches"


def _event(payload: bytes) -> Event:
    try:
        body: Any = json.loads(payload)
    except ValueError:
        raise WebhookVerificationError("the webhook body is not JSON") from None
    kind = body.get("object") if isinstance(body, dict) else None
    model = _EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise WebhookVerificationError(
            f"unknown webhook event type {str(kind)[:40]!r}: upgrade imprint-sessions-client"
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise WebhookVerificationError(
            f"the webhook body is not a valid {kind} event: {problems}"
        ) from None
