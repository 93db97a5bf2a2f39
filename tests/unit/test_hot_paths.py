"""Which requests the hot-path dispatcher serves itself, and which it leaves to FastAPI."""

from __future__ import annotations

import pytest

from imprint_sessions.client_api.exchange import exchange
from imprint_sessions.hot_paths import _create_session, _get_session, _handler
from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH

SESSION_ID = "2EE24580-B97B-4949-A65C-929CCB9B9B8D"


def scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v2/customer_sessions", _create_session),
        ("GET", f"/v2/customer_sessions/{SESSION_ID}", _get_session),
        ("POST", "/v2/client/exchange", exchange),
    ],
)
def test_the_three_hot_operations_are_dispatched_directly(
    method: str, path: str, expected: object
) -> None:
    assert _handler(scope(method, path)) is expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/customer_sessions"),  # not an operation: FastAPI's 405
        ("PUT", "/v2/customer_sessions"),
        ("HEAD", f"/v2/customer_sessions/{SESSION_ID}"),
        ("POST", "/v2/customer_sessions/"),
        ("GET", "/v2/customer_sessions/"),  # an empty id
        ("GET", f"/v2/customer_sessions/{SESSION_ID}/expire"),
        ("POST", f"/v2/customer_sessions/{SESSION_ID}/expire"),
        ("GET", "/v2/customer_sessions/" + "A" * (IDENTIFIER_MAX_LENGTH + 1)),  # FastAPI's 400
        ("GET", "/v2/client/exchange"),
        ("POST", "/v2/client/exchange/"),
        ("POST", "/v2/customers"),
    ],
)
def test_everything_else_is_left_to_fastapi(method: str, path: str) -> None:
    assert _handler(scope(method, path)) is None
