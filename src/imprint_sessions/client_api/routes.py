"""Every client API router, mounted together, and what the served OpenAPI needs to know of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from imprint_sessions.client_api import (
    applications,
    exchange,
    payment_methods,
    phone_verification,
    profile,
    session,
)
from imprint_sessions.client_api.cors import PREFIX
from imprint_sessions.client_api.schemas import (
    ConfirmPhoneVerification,
    CreateApplication,
    ExchangeRequest,
    ProfileUpdate,
)

router = APIRouter()
for module in (exchange, session, profile, phone_verification, applications, payment_methods):
    router.include_router(module.router)

_BODY_MODELS = (ExchangeRequest, ProfileUpdate, ConfirmPhoneVerification, CreateApplication)
CLIENT_AUTH_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "ict_...",
    "description": "The client credential from POST /v2/client/exchange: "
    "`Authorization: Bearer <access_token>` (API keys are refused here)",
}


def add_client_api_openapi(spec: dict[str, Any]) -> None:
    """Publish the request bodies read from raw bytes, and the client API's own auth."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODY_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
    spec["components"].setdefault("securitySchemes", {})["clientAuth"] = CLIENT_AUTH_SCHEME
    for path, operations in spec["paths"].items():
        if path.startswith(PREFIX):
            for operation in operations.values():
                public = path == f"{PREFIX}exchange"
                operation["security"] = [] if public else [{"clientAuth": []}]
