"""Reading a JSON request body from raw bytes: the one parser every surface uses."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from starlette.requests import Request

from imprint_sessions.errors import InvalidRequest
from imprint_sessions.validation import validation_details

M = TypeVar("M", bound=pydantic.BaseModel)
_JSON = "application/json"


def parse_json_body(
    model: type[M], request: Request, body: bytes, *, context: dict[str, Any] | None = None
) -> M:
    """Validate raw bytes straight into ``model`` (``model_validate_json``, no intermediate dict).

    An empty body means "no fields". Anything else must be declared JSON and be a JSON object;
    every problem becomes one ``"field: message"`` detail of a single 400.
    """
    if not body:
        body = b"{}"
    else:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != _JSON and not media_type.endswith("+json"):
            raise InvalidRequest("content-type: must be application/json")
    try:
        return model.model_validate_json(body, context=context)
    except pydantic.ValidationError as exc:
        raise InvalidRequest(*validation_details(exc)) from None
