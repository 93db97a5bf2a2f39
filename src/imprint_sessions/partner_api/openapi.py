"""What FastAPI cannot infer about the partner API's issue-5 routes, added to the served spec."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from imprint_sessions.partner_api.schemas import (
    DeleteApiKeyRequest,
    SearchCustomersRequest,
    UpdateCustomerRequest,
)
from imprint_sessions.partner_api.webhook_schemas import (
    CreateWebhookEndpointRequest,
    RotateWebhookSecretRequest,
    SimulateApplicationRequest,
)

# Bodies read from raw bytes (``parse_json_body``), so FastAPI never saw their models.
_BODY_MODELS: tuple[type[BaseModel], ...] = (
    SearchCustomersRequest,
    UpdateCustomerRequest,
    DeleteApiKeyRequest,
    CreateWebhookEndpointRequest,
    RotateWebhookSecretRequest,
    SimulateApplicationRequest,
)
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def add_partner_api_openapi(spec: dict[str, Any]) -> None:
    """Publish the raw-bytes request bodies; drop FastAPI's automatic 422 from ``/v2/`` routes.

    Parameter errors are answered 400 with the seed's ``InvalidRequestError`` (``app.py``), never
    FastAPI's 422 ``HTTPValidationError``, so documenting that 422 would be wrong.
    """
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODY_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
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
