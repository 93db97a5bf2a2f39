"""OpenAPI descriptions of every error status, so the served spec documents each one."""

from __future__ import annotations

from typing import Any

from imprint_sessions.wire.partner import ConflictError, InvalidRequestError, NotFoundError

_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Missing, malformed, unknown or revoked credential",
    403: "The credential may not act for this merchant key",
    404: "Not found (another partner's ids are indistinguishable from missing ones)",
    409: "Conflict",
    413: "Request body over the documented size limit",
    429: "Over the API key's rate limit; retry after Retry-After seconds",
    503: "Temporarily unavailable; see Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model: type[Any] = InvalidRequestError
        if status == 404:
            model = NotFoundError
        elif status == 409:
            model = ConflictError
        responses[status] = {"description": _DESCRIPTIONS[status], "model": model}
        if status in (429, 503):
            responses[status]["headers"] = {"Retry-After": _RETRY_AFTER}
    return responses


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 1},
}
