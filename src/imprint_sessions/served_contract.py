"""What the served OpenAPI says beyond FastAPI's inference, on every surface: whether a request
body is required, the response headers the server sends, links between operations, webhooks."""

from __future__ import annotations

from typing import Any

from imprint_sessions.domain.events import EVENT_DATA_MODELS
from imprint_sessions.middleware import REQUEST_ID_PATTERN
from imprint_sessions.webhooks.signing import IMPRINT_SIGNATURE_HEADER

_JSON = "application/json"
_REF = "#/components/schemas/"

REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id, on every response: the caller's `Request-Id` when it is "
    "well formed (1 to 64 of `A-Z a-z 0-9 . _ -`), else a new one (`req_` + 24 hex). Quote it "
    "when reporting a problem",
    "required": True,
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}
WWW_AUTHENTICATE_HEADER: dict[str, Any] = {
    "description": "The accepted credential schemes",
    "required": True,
    "schema": {"type": "string", "example": 'Basic realm="imprint", Bearer'},
}


def _component(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    if not ref.startswith(_REF):
        return schema
    found: dict[str, Any] = spec["components"]["schemas"][ref[len(_REF) :]]
    return found


def declare_request_bodies(spec: dict[str, Any]) -> None:
    """A body is required exactly when ``{}`` would be refused (its schema requires a field, or
    one of several: ``oneOf`` of ``required``s).

    Every body is read from raw bytes (``JsonBody.read``), where an absent body means ``{}``:
    so an operation whose fields are all optional takes no body at all, and one with a required
    field answers a missing body with the documented 400 naming that field.
    """
    for operations in spec["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is None:
                continue
            schema = _component(spec, body["content"][_JSON]["schema"])
            body["required"] = bool(schema.get("required")) or any(
                branch.get("required") for branch in schema.get("oneOf", ())
            )


def declare_response_headers(spec: dict[str, Any]) -> None:
    """``Request-Id`` on every response (``RequestIdMiddleware``); the challenge on every 401."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                # A new dict: the route's may be shared with other routes (IDEMPOTENT_RESPONSES).
                headers = {**response.get("headers", {}), "Request-Id": REQUEST_ID_HEADER}
                if status == "401":
                    headers["WWW-Authenticate"] = WWW_AUTHENTICATE_HEADER
                response["headers"] = headers


# (from operationId, to operationId, link name, parameters, request body)
_LINKS: list[tuple[str, str, str, dict[str, str], dict[str, str] | None]] = [
    ("createSession", "getSession", "GetSession", {"session_id": "$response.body#/id"}, None),
    ("createSession", "expireSession", "ExpireSession", {"session_id": "$response.body#/id"}, None),
    (
        "createSession",
        "exchangeClientSecret",
        "ExchangeClientSecret",
        {},
        {"client_secret": "$response.body#/client_secret"},
    ),
    ("getSession", "expireSession", "ExpireSession", {"session_id": "$response.body#/id"}, None),
    ("createKey", "deleteKey", "DeleteKey", {}, {"id": "$response.body#/id"}),
    (
        "createWebhookEndpoint",
        "disableWebhookEndpoint",
        "DisableWebhookEndpoint",
        {"endpoint_id": "$response.body#/id"},
        None,
    ),
    (
        "createWebhookEndpoint",
        "rotateWebhookSecret",
        "RotateWebhookSecret",
        {"endpoint_id": "$response.body#/id"},
        None,
    ),
    (
        "listWebhookEvents",
        "listWebhookEventDeliveries",
        "ListDeliveries",
        {"event_id": "$response.body#/data/0/id"},
        None,
    ),
    (
        "listWebhookEventDeliveries",
        "replayWebhookDelivery",
        "ReplayDelivery",
        {"delivery_id": "$response.body#/data/0/id"},
        None,
    ),
    (
        "listPaymentMethods",
        "getPaymentMethod",
        "GetPaymentMethod",
        {"payment_method_id": "$response.body#/data/0/id"},
        None,
    ),
    (
        "listCustomerSessions",
        "getSession",
        "GetSession",
        {"session_id": "$response.body#/data/0/id"},
        None,
    ),
    (
        "simulateApplication",
        "getCustomer",
        "GetCustomer",
        {"customer_id": "$response.body#/customer_id"},
        None,
    ),
]
# A customer's id leads to everything about that customer.
_CUSTOMER_OPERATIONS = {
    "getCustomer": "GetCustomer",
    "updateCustomer": "UpdateCustomer",
    "listPaymentMethods": "ListPaymentMethods",
    "listCustomerSessions": "ListCustomerSessions",
}
for _source, _pointer in (
    ("listCustomers", "$response.body#/data/0/id"),
    ("searchCustomers", "$response.body#/data/0/id"),
    ("getCustomer", "$response.body#/id"),
    ("updateCustomer", "$response.body#/id"),
):
    for _target, _name in _CUSTOMER_OPERATIONS.items():
        if _target != _source:
            _LINKS.append((_source, _target, _name, {"customer_id": _pointer}, None))


def add_links(spec: dict[str, Any]) -> None:
    """OpenAPI ``links`` on each 200: which operation the ids in a response lead to."""
    operations = {
        operation["operationId"]: operation
        for path_item in spec["paths"].values()
        for operation in path_item.values()
    }
    for source, target, name, parameters, body in _LINKS:
        link: dict[str, Any] = {"operationId": target}
        if parameters:
            link["parameters"] = parameters
        if body is not None:
            link["requestBody"] = body
        operations[source]["responses"]["200"].setdefault("links", {})[name] = link


_WEBHOOK_HEADERS: list[tuple[str, str, dict[str, Any]]] = [
    (
        IMPRINT_SIGNATURE_HEADER,
        '`t=<unix ms>,s=<hex HMAC-SHA256(key, "<t>.<raw body>")>`; while a rotated-out secret '
        "is in its grace period, one more `s=` per live secret (accept the request if any "
        "matches). The key is the signing secret's bytes (the base64 after `whsec_`, decoded)",
        {"type": "string", "pattern": "^t=[0-9]+(,s=[0-9a-f]{64})+$"},
    ),
    (
        "webhook-id",
        "Standard Webhooks: the event id, the same on every attempt (de-duplicate on it)",
        {"type": "string"},
    ),
    ("webhook-timestamp", "Standard Webhooks: unix seconds", {"type": "string"}),
    (
        "webhook-signature",
        'Standard Webhooks: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, '
        "space-separated, one per live secret",
        {"type": "string"},
    ),
]


def add_webhooks(spec: dict[str, Any]) -> None:
    """OpenAPI 3.1 ``webhooks``: what the service POSTs to a partner's endpoints, per type."""
    schemas = spec["components"]["schemas"]
    webhooks = spec.setdefault("webhooks", {})
    for event_type, model in EVENT_DATA_MODELS.items():
        data_schema = model.model_json_schema(ref_template=_REF + "{model}", mode="serialization")
        schemas.update(data_schema.pop("$defs", {}))
        schemas[model.__name__] = data_schema
        body_name = f"{event_type.title().replace('_', '')}Webhook"
        schemas[body_name] = {
            "type": "object",
            "description": f"The body of an `{event_type}` webhook: compact JSON, keys sorted; "
            "these exact bytes are signed",
            "required": ["data", "id", "object"],
            "additionalProperties": False,
            "properties": {
                "data": {"$ref": _REF + model.__name__},
                "id": {"type": "string", "description": "The event id (as `webhook-id`)"},
                "object": {"type": "string", "const": event_type},
            },
        }
        webhooks[event_type] = {
            "post": {
                "operationId": f"{body_name[0].lower()}{body_name[1:]}",
                "summary": f"An `{event_type}` event, POSTed to your endpoint",
                "description": (model.__doc__ or "").strip()
                + " Any 2xx acknowledges it; anything else is retried with exponential "
                "back-off, for up to 3 days.",
                "tags": ["Webhooks"],
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": description,
                        "schema": schema,
                    }
                    for name, description, schema in _WEBHOOK_HEADERS
                ],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": {"$ref": _REF + body_name}}},
                },
                "responses": {"2XX": {"description": "Received (the body is ignored)"}},
            }
        }


def complete_served_contract(spec: dict[str, Any]) -> None:
    """Everything above, in order, on the spec FastAPI generated."""
    declare_request_bodies(spec)
    declare_response_headers(spec)
    add_links(spec)
    add_webhooks(spec)
