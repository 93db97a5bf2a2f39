"""OpenAPI descriptions of the client API's error statuses (the partner API's shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.wire.partner import InvalidRequestError


class ClientApiError(InvalidRequestError):
    """The client API's flat error body: the partner API's, and two keys some errors add."""

    error_code: Literal["INVALID_CLIENT_SECRET", "OTP_LOCKED", "OTP_LIMIT_REACHED"] | None = Field(
        default=None,
        description=(
            "Why, where the client acts on it: `INVALID_CLIENT_SECRET` (401 at the exchange: "
            "used, expired or unknown), `OTP_LOCKED` and `OTP_LIMIT_REACHED` (429)"
        ),
        examples=["INVALID_CLIENT_SECRET"],
    )
    remaining_attempts: int | None = Field(
        default=None,
        ge=0,
        description="After an incorrect one-time code (400): how many tries are left",
        examples=[4],
    )


_DESCRIPTIONS = {
    401: "Missing, forged, expired or revoked client credential (an API key is refused too)",
    404: "Not found (another customer's ids are indistinguishable from missing ones)",
    429: "Too many: `error_code` says which (`OTP_LOCKED`, `OTP_LIMIT_REACHED`)",
    503: "Temporarily unavailable (the database, or the code could not be sent)",
}


def client_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = error_responses(*statuses)
    for response in responses.values():
        if response["model"] is InvalidRequestError:
            response["model"] = ClientApiError
    for status, description in _DESCRIPTIONS.items():
        if status in responses:
            responses[status]["description"] = description
    if 429 in responses:
        responses[429].pop("headers", None)  # a locked code has no Retry-After
    return responses
