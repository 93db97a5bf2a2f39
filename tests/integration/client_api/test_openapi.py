"""The client API in the served OpenAPI: its own tag, operation ids, bodies and credential."""

from __future__ import annotations

from conftest import Harness

OPERATIONS = {
    ("post", "/v2/client/exchange"): "exchangeClientSecret",
    ("get", "/v2/client/session"): "getClientSession",
    ("get", "/v2/client/profile"): "getClientProfile",
    ("post", "/v2/client/profile"): "updateClientProfile",
    ("post", "/v2/client/phone/verification"): "startPhoneVerification",
    ("post", "/v2/client/phone/verification/confirm"): "confirmPhoneVerification",
    ("post", "/v2/client/applications"): "createClientApplication",
    ("get", "/v2/client/applications/current"): "getCurrentClientApplication",
    ("post", "/v2/client/applications/{application_id}/accept"): "acceptClientApplicationOffer",
    ("get", "/v2/client/payment_methods"): "listClientPaymentMethods",
    ("post", "/v2/client/payment_methods/{payment_method_id}/lock"): "lockClientPaymentMethod",
    ("post", "/v2/client/payment_methods/{payment_method_id}/unlock"): "unlockClientPaymentMethod",
}


async def test_client_api_is_documented_under_its_own_tag(harness: Harness) -> None:
    spec = (await harness.client.get("/openapi.json")).json()
    found = {
        (method, path): operation
        for path, operations in spec["paths"].items()
        if path.startswith("/v2/client/")
        for method, operation in operations.items()
    }
    assert {key: op["operationId"] for key, op in found.items()} == OPERATIONS
    for (_method, path), operation in found.items():
        assert operation["tags"] == ["Client API"], path
        assert operation["description"], path
        expected = [] if path == "/v2/client/exchange" else [{"clientAuth": []}]
        assert operation["security"] == expected, path
        assert "401" in operation["responses"] or path == "/v2/client/exchange", path
    assert spec["components"]["securitySchemes"]["clientAuth"]["scheme"] == "bearer"
    body = found[("post", "/v2/client/applications")]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CreateApplication"
    assert "ssn4" in spec["components"]["schemas"]["CreateApplication"]["properties"]
    assert "DateOfBirth" in spec["components"]["schemas"]
