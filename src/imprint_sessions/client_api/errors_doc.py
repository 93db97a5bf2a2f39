"""OpenAPI descriptions of the client API's error statuses (the partner API's shapes)."""

from __future__ import annotations

from typing import Any

from imprint_sessions.partner_api.errors_doc import error_responses

_DESCRIPTIONS = {
    401: "Missing, forged, expired or revoked client credential (an API key is refused too)",
    404: "Not found (another customer's ids are indistinguishable from missing ones)",
    429: "Too many: `error_code` says which (`OTP_LOCKED`, `OTP_LIMIT_REACHED`)",
    503: "Temporarily unavailable (the database, or the code could not be sent)",
}


def client_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = error_responses(*statuses)
    for status, description in _DESCRIPTIONS.items():
        if status in responses:
            responses[status]["description"] = description
    if 429 in responses:
        responses[429].pop("headers", None)  # a locked code has no Retry-After
    return responses
