"""The served OpenAPI for POST /v2/customer_sessions matches the seed, field for field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract.seed_spec import SEED_PATH, load_seed_spec, resolve_refs
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

JSON = "application/json"
SECRET_KEY = "contract-test-master-key-" + "k" * 15  # 40 characters


def type_tree(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema's ``type``, and recursively its properties' and items' types (nothing else)."""
    tree: dict[str, Any] = {"type": schema.get("type")}
    if "properties" in schema:
        tree["properties"] = {name: type_tree(prop) for name, prop in schema["properties"].items()}
    if "items" in schema:
        tree["items"] = type_tree(schema["items"])
    return tree


def create_session(spec: dict[str, Any]) -> dict[str, Any]:
    """The POST /v2/customer_sessions operation of ``spec``, every ``$ref`` resolved."""
    operation: dict[str, Any] = resolve_refs(spec["paths"][SEED_PATH]["post"], spec)
    return operation


def request_schema(operation: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = operation["requestBody"]["content"][JSON]["schema"]
    return schema


def response_schema(operation: dict[str, Any], status: int) -> dict[str, Any]:
    responses = operation["responses"]
    assert str(status) in responses, f"{status} is not documented: {sorted(responses)}"
    schema: dict[str, Any] = responses[str(status)]["content"][JSON]["schema"]
    return schema


def described_properties(schema: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """``(dotted path, description)`` of every property under ``schema`` that has one."""
    found: list[tuple[str, str]] = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}.{name}"
        if "description" in prop:
            found.append((path, prop["description"]))
        found += described_properties(prop, path)
    return found


def property_at(operation: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The property schema a ``described_properties`` path names, or None if it is missing."""
    where, *names = path.split(".")
    node = (
        request_schema(operation) if where == "request" else response_schema(operation, int(where))
    )
    for name in names:
        node = node.get("properties", {}).get(name)
        if node is None:
            return None
    return node


def normalise(text: str) -> str:
    return " ".join(text.split())


SEED_SPEC = load_seed_spec()
SEED_OPERATION = create_session(SEED_SPEC)
SEED_DESCRIPTIONS = [
    *described_properties(request_schema(SEED_OPERATION), "request"),
    *described_properties(response_schema(SEED_OPERATION, 200), "200"),
    *described_properties(response_schema(SEED_OPERATION, 400), "400"),
]


@pytest.fixture(scope="module")
def served_spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app's own ``openapi()``; building it needs no database, so none is opened."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
        log_level="DEBUG",
    )
    return create_app(settings).openapi()


@pytest.fixture(scope="module")
def served(served_spec: dict[str, Any]) -> dict[str, Any]:
    assert SEED_PATH in served_spec["paths"], f"{SEED_PATH} is not served"
    assert "post" in served_spec["paths"][SEED_PATH], f"POST {SEED_PATH} is not served"
    return create_session(served_spec)


def test_seed_descriptions_collected_from_every_schema() -> None:
    # Guards the parametrized description test below against silently comparing nothing.
    paths = {path for path, _ in SEED_DESCRIPTIONS}
    assert {"request.customer_id", "request.customer_history.address.city", "200.id"} <= paths
    assert "400.timestamp" in paths


def test_create_session_operation_id_is_create_session(served: dict[str, Any]) -> None:
    assert SEED_OPERATION["operationId"] == "createSession"
    assert served.get("operationId") == SEED_OPERATION["operationId"]


# Deliberate, reviewed additions to the seed's request body, with their types. Any other
# property beyond the seed fails the comparison below; these must stay optional (next test).
REQUEST_EXTENSIONS = {"expires_in": {"type": "integer"}}


def test_request_body_property_types_match_seed(served: dict[str, Any]) -> None:
    # Recursively: customer_history is CustomerAccountHistory, its address is Address.
    served_tree = type_tree(request_schema(served))
    extensions = {
        name: served_tree["properties"].pop(name)
        for name in REQUEST_EXTENSIONS
        if name in served_tree.get("properties", {})
    }
    assert served_tree == type_tree(request_schema(SEED_OPERATION))
    assert extensions == {name: REQUEST_EXTENSIONS[name] for name in extensions}


def test_request_body_requires_nothing_beyond_seed(served: dict[str, Any]) -> None:
    seed_required = set(request_schema(SEED_OPERATION).get("required", []))
    assert set(request_schema(served).get("required", [])) <= seed_required


def test_customer_history_email_format_is_email(served: dict[str, Any]) -> None:
    seed_email = request_schema(SEED_OPERATION)["properties"]["customer_history"]["properties"]
    served_email = request_schema(served)["properties"]["customer_history"]["properties"]
    assert seed_email["email"]["format"] == "email"
    assert served_email["email"].get("format") == seed_email["email"]["format"]


def test_200_response_properties_and_required_match_customer_session(
    served: dict[str, Any],
) -> None:
    seed_schema = response_schema(SEED_OPERATION, 200)
    served_schema = response_schema(served, 200)
    assert type_tree(served_schema) == type_tree(seed_schema)
    assert sorted(served_schema.get("required", [])) == sorted(seed_schema["required"])


def test_400_response_properties_match_invalid_request_error(served: dict[str, Any]) -> None:
    assert type_tree(response_schema(served, 400)) == type_tree(
        response_schema(SEED_OPERATION, 400)
    )


# The seed documents 200 and 400 only; these are the other statuses POST /v2/customer_sessions
# answers. 404 has its own flat {type, message, param} body; the rest share the 400 envelope
# (reference/imprint-flow.md, section 2, "Errors").
NOT_FOUND_TREE = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in ("type", "message", "param")},
}


@pytest.mark.parametrize("status", [401, 403, 404, 413])
def test_extra_error_status_is_documented_with_its_body(
    served: dict[str, Any], status: int
) -> None:
    assert served["responses"].get(str(status), {}).get("description"), f"{status} undocumented"
    expected = NOT_FOUND_TREE if status == 404 else type_tree(response_schema(SEED_OPERATION, 400))
    assert type_tree(response_schema(served, status)) == expected


def test_bearer_auth_security_scheme_is_served_and_applies(
    served_spec: dict[str, Any], served: dict[str, Any]
) -> None:
    seed_bearer = SEED_SPEC["components"]["securitySchemes"]["bearerAuth"]
    served_schemes = served_spec.get("components", {}).get("securitySchemes", {})
    assert "bearerAuth" in served_schemes
    served_bearer = served_schemes["bearerAuth"]
    assert (served_bearer.get("type"), served_bearer.get("scheme")) == (
        seed_bearer["type"],
        seed_bearer["scheme"],
    )
    security = served.get("security", served_spec.get("security", []))
    assert {"bearerAuth": []} in security


@pytest.mark.parametrize(
    ("path", "seed_description"), SEED_DESCRIPTIONS, ids=[path for path, _ in SEED_DESCRIPTIONS]
)
def test_seed_property_description_is_served_verbatim(
    served: dict[str, Any], path: str, seed_description: str
) -> None:
    prop = property_at(served, path)
    assert prop is not None, f"{path} is not in the served spec"
    assert "description" in prop, f"{path} has no description in the served spec"
    assert normalise(prop["description"]) == normalise(seed_description)


def test_create_session_descriptions_are_the_seeds(served: dict[str, Any]) -> None:
    assert normalise(served["description"]) == normalise(SEED_OPERATION["description"])
    assert (
        served["responses"]["200"]["description"]
        == SEED_OPERATION["responses"]["200"]["description"]
    )
