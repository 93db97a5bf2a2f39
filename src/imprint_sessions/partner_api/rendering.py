"""Partner API objects as JSON responses: bytes from the serializers generated from the wire
models (``wire/``), or a value to serialise."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json

JSON = "application/json"


def json_response(payload: bytes | Any, *, headers: dict[str, str] | None = None) -> Response:
    """``payload`` (serialised bytes, or a value to serialise) as an ``application/json`` 200."""
    body = payload if isinstance(payload, bytes) else to_json(payload)
    return Response(body, media_type=JSON, headers=headers)


# A response that holds a credential (a new API key): no cache anywhere may keep it.
NO_STORE = {"Cache-Control": "no-store"}
NO_STORE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Cache-Control": {
                "description": "The response holds a credential: no cache may keep it",
                "required": True,
                "schema": {"type": "string", "enum": ["no-store"]},
            }
        }
    }
}
