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

router = APIRouter()
for module in (exchange, session, profile, phone_verification, applications, payment_methods):
    router.include_router(module.router)

CLIENT_AUTH_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "ict_...",
    "description": "The client credential from POST /v2/client/exchange: "
    "`Authorization: Bearer <access_token>` (API keys are refused here)",
}


def add_client_api_openapi(spec: dict[str, Any]) -> None:
    """The client API's own credential (its bodies are published with every other's)."""
    spec["components"].setdefault("securitySchemes", {})["clientAuth"] = CLIENT_AUTH_SCHEME
    for path, operations in spec["paths"].items():
        if path.startswith(PREFIX):
            for operation in operations.values():
                public = path == f"{PREFIX}exchange"
                operation["security"] = [] if public else [{"clientAuth": []}]
