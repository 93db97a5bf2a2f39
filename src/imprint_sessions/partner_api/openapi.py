"""What FastAPI cannot infer about the partner API's routes: no automatic 422."""

from __future__ import annotations

from typing import Any

_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def add_partner_api_openapi(spec: dict[str, Any]) -> None:
    """Drop FastAPI's automatic 422 from ``/v2/`` routes.

    Parameter errors are answered 400 with the seed's ``InvalidRequestError`` (``app.py``), never
    FastAPI's 422 ``HTTPValidationError``, so documenting that 422 would be wrong.
    """
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/v2/"):
            continue
        for operation in operations.values():
            response = operation.get("responses", {}).get("422", {})
            schema_ref = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema_ref.get("$ref") == _FASTAPI_422:
                del operation["responses"]["422"]
    if _FASTAPI_422 not in repr(spec.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
