"""One exception class per kind of failure, from the real app's answers; and no credential in any
``repr``, exception text or log line the SDK writes."""

from __future__ import annotations

import logging
import pickle
import re
import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import _REGISTRY
from imprint_client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    CreatedApiKey,
    CustomerSession,
    ErrorDetail,
    Imprint,
    ImprintError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WebhookVerificationError,
    _core,
)
from imprint_client import _operations as ops
from imprint_client.models import ErrorBody, NotFoundErrorBody
from sdk.conftest import AsyncApp, RetryLog, SyncApp

REQUEST_ID_RE = re.compile(r"req_[0-9a-f]{24}")


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


def texts_of(error: BaseException) -> list[str]:
    """Everything of an exception a log, a traceback or an error tracker would show."""
    shown = [str(error), repr(error), f"{error}", " ".join(map(str, error.args))]
    if isinstance(error, ImprintError):
        shown += [error.message, repr(error.body), str(error.body), repr(error.details)]
        shown += [str(d) for d in error.details]
    return shown


PREFIX_RE = re.compile(r"^(isk_(test|live)_|ics_[0-9a-f]{8}_|ict_|whsec_)")


def assert_hidden(secret: str, *texts: str) -> None:
    """Neither the secret nor the start of its random part is in any of ``texts``."""
    random_part = PREFIX_RE.sub("", secret)
    assert len(random_part) >= 12
    for text in texts:
        assert secret not in text, text
        assert random_part[:12] not in text, text


# -- each kind, from the real app -----------------------------------------------------------------


def test_a_400_lists_every_problem_as_field_and_message(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    with pytest.raises(InvalidRequestError) as caught:
        client.customer_sessions.create(
            transaction_currency="usd", customer_history={"email": "nope", "phone": "555"}
        )
    error = caught.value
    assert error.status == 400
    assert error.details == [
        ErrorDetail("transaction_currency", "must be an ISO-4217 currency code"),
        ErrorDetail("customer_history.email", "must be a well-formed email address"),
        ErrorDetail("customer_history.phone", "must be a valid phone number in E.164 format"),
    ]
    assert isinstance(error.body, ErrorBody)
    assert (error.body.path, error.body.error) == ("/v2/customer_sessions", "Bad Request")
    assert error.request_id is not None
    assert REQUEST_ID_RE.fullmatch(error.request_id)
    assert error.request_id in str(error)
    assert "customer_history.email: must be a well-formed email address" in str(error)


def test_an_error_survives_pickling_for_a_task_queue(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    with pytest.raises(NotFoundError) as caught:
        client.customers.retrieve("00000000-0000-4000-8000-000000000000")
    copied = pickle.loads(pickle.dumps(caught.value))
    assert type(copied) is NotFoundError
    assert (copied.status, copied.type, copied.request_id, str(copied)) == (
        404,
        "CUSTOMER_NOT_FOUND_ERROR",
        caught.value.request_id,
        str(caught.value),
    )


def test_a_key_that_cannot_be_a_header_is_refused_at_once() -> None:
    for bad in ("", " isk_test_x", "isk_test_x\n", "isk test", "isk_tést"):
        with pytest.raises(ValueError, match="api_key"):
            Imprint(bad)


def test_a_413_and_a_422_are_invalid_requests_too(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    with pytest.raises(InvalidRequestError) as too_large:
        client.customer_sessions.create(metadata={"blob": "x" * 70_000})
    assert too_large.value.status == 413
    key = secrets.token_hex(8)
    client.customer_sessions.create(partner_customer_id=pcid(), idempotency_key=key)
    with pytest.raises(InvalidRequestError) as reused:
        client.customer_sessions.create(partner_customer_id=pcid(), idempotency_key=key)
    assert reused.value.status == 422
    assert [d.field for d in reused.value.details] == ["idempotency-key"]


def test_a_401_is_an_authentication_error_that_never_shows_the_key(sync_app: SyncApp) -> None:
    wrong = "isk_test_" + secrets.token_urlsafe(32)[:43]
    client = sync_app.client(wrong)
    with pytest.raises(AuthenticationError) as caught:
        client.customers.list()
    assert caught.value.status == 401
    assert caught.value.details == [ErrorDetail(None, "a valid API key is required")]
    assert_hidden(wrong, repr(client), str(client), *texts_of(caught.value))


def test_a_403_is_permission_denied(sync_app: SyncApp) -> None:
    _, api_key = sync_app.new_partner(merchant_keys=["acme-card", "acme-travel"])
    with pytest.raises(PermissionDeniedError) as caught:
        sync_app.client(api_key).customer_sessions.create(merchant_key="someone-else")
    assert caught.value.status == 403
    client = sync_app.partner_client()
    sandbox = client.test_helpers.sandboxes.create()
    _REGISTRY.remember(sandbox.api_key)
    with pytest.raises(PermissionDeniedError):  # a sandbox cannot make sandboxes
        client.with_options(api_key=sandbox.api_key).test_helpers.sandboxes.create()


def test_a_404_has_its_type_message_and_param(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFoundError) as caught:
        client.customer_sessions.retrieve(missing)
    error = caught.value
    assert (error.status, error.type, error.param, error.code) == (
        404,
        "SESSION_NOT_FOUND_ERROR",
        "session_id",
        "SESSION_NOT_FOUND_ERROR",
    )
    assert isinstance(error.body, NotFoundErrorBody)
    assert error.body.message == f"Session not found for provided ID: {missing}"
    assert error.details == []


def test_a_409_is_a_conflict_with_its_type(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    first, second = pcid(), pcid()
    client.customer_sessions.create(partner_customer_id=first)
    client.customer_sessions.create(partner_customer_id=second)
    other = client.customers.list(partner_customer_id=second).data[0]
    with pytest.raises(ConflictError) as caught:
        client.customers.update(other.id, partner_customer_id=first)
    assert (caught.value.status, caught.value.type) == (409, "CUSTOMER_CONFLICT_ERROR")


async def test_the_async_client_raises_the_same_classes(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    with pytest.raises(NotFoundError):
        await client.customers.retrieve("00000000-0000-4000-8000-000000000000")
    with pytest.raises(InvalidRequestError):
        await client.customers.update("00000000-0000-4000-8000-000000000000", email="nope")
    with pytest.raises(AuthenticationError):
        await async_app.client("isk_test_" + "x" * 43).customers.list()


# -- no response ----------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that accepts connections and never answers (a hung peer)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_refused_connection_is_retried_then_an_api_connection_error(
    retry_log: RetryLog,
) -> None:
    port = closed_port()
    client = Imprint("isk_test_" + "a" * 43, base_url=f"http://127.0.0.1:{port}", max_retries=2)
    started = time.monotonic()
    with pytest.raises(APIConnectionError) as caught:
        client.api_keys.create()  # once-only, and still retried: nothing was sent
    elapsed = time.monotonic() - started
    client.close()
    assert type(caught.value) is APIConnectionError
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "createKey: the connection failed (ConnectError" in str(caught.value)
    assert caught.value.status is None
    assert len([line for line in retry_log.lines() if "ConnectError" in line]) == 2
    assert elapsed >= 0.25 + 0.5  # the two backoffs' lower bounds


def test_no_answer_within_the_timeout_is_an_api_timeout_error(black_hole: str) -> None:
    with Imprint("isk_test_" + "a" * 43, base_url=black_hole, timeout=0.3, max_retries=0) as c:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as caught:
            c.customers.list()
        assert time.monotonic() - started < 5
    assert isinstance(caught.value, APIConnectionError)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


# -- nothing of a secret in any repr, exception or log line ---------------------------------------


def test_no_repr_shows_a_secret(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    api_key = client._config.api_key
    assert_hidden(api_key, repr(client), str(client), repr(client._config))
    assert "api_key='isk_test_****'" in repr(client)

    session = client.customer_sessions.create(partner_customer_id=pcid())
    shown = [repr(session), str(session), f"{session!r}", repr([session])]
    assert_hidden(session.client_secret, *shown)
    assert "client_secret='ics_****'" in repr(session)
    assert session.client_secret.startswith("ics_")  # the secret itself is there to hand on
    assert session.model_dump()["client_secret"] == session.client_secret

    key = client.api_keys.create()
    _REGISTRY.remember(key.api_key)
    assert isinstance(key, CreatedApiKey)
    assert_hidden(key.api_key, repr(key), str(key))
    endpoint = client.webhook_endpoints.create(url="http://127.0.0.1:9/hooks")
    rotated = client.webhook_endpoints.rotate_secret(endpoint.id)
    for secret in (endpoint.secret, rotated.secret):
        assert secret is not None
        _REGISTRY.remember(secret)
    assert endpoint.secret is not None
    assert rotated.secret is not None
    assert_hidden(endpoint.secret, repr(endpoint), str(endpoint))
    assert_hidden(rotated.secret, repr(rotated), str(rotated))
    sandbox = client.test_helpers.sandboxes.create()
    _REGISTRY.remember(sandbox.api_key)
    assert_hidden(sandbox.api_key, repr(sandbox), str(sandbox))


def test_a_secret_field_is_masked_whatever_its_format() -> None:
    """By name, not only by shape: the seed's own example secret is bare base64."""
    seed_example = "QzMyNzg4QzgtNEUwOS00QkU4LThDMjEtMkU5OUQ3QzkwRDhGCg=="
    session = CustomerSession(
        id="2EE24580-B97B-4949-A65C-929CCB9B9B8D",
        client_secret=seed_example,
        expires_at="2025-02-13T19:08:07.000Z",
    )
    assert "client_secret='****'" in repr(session)
    for shown in (repr(session), str(session), repr([session])):
        assert seed_example[:12] not in shown


def test_no_exception_shows_a_secret_the_request_carried(sync_app: SyncApp) -> None:
    """Secrets sent where they do not belong (a client secret as an id, as a key, a key as a
    customer id): whatever the error, none of its text shows them."""
    client = sync_app.partner_client()
    api_key = client._config.api_key
    session = client.customer_sessions.create(partner_customer_id=pcid())
    raised: list[tuple[str, ImprintError]] = []
    attempts = [
        (session.client_secret, lambda: client.customer_sessions.retrieve(session.client_secret)),
        (api_key, lambda: client.customers.retrieve(api_key)),
        (api_key, lambda: client.customer_sessions.create(customer_id=api_key)),
        (api_key, lambda: client.api_keys.delete(api_key)),
        (session.client_secret, lambda: sync_app.client(session.client_secret).customers.list()),
    ]
    for secret, attempt in attempts:
        with pytest.raises(ImprintError) as caught:
            attempt()
        raised.append((secret, caught.value))
    assert {type(e) for _, e in raised} == {NotFoundError, AuthenticationError}
    for secret, error in raised:
        assert_hidden(secret, *texts_of(error))


SECRETS = {
    "api key": "isk_live_" + "Q" * 43,
    "client secret": "ics_0123abcd_" + "Z" * 64,
    "client credential": "ict_" + "Y" * 60,
    "webhook secret": "whsec_" + "W" * 32,
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitError),
        (500, APIError),
        (503, APIError),
        (418, APIError),
    ],
)
def test_a_secret_in_an_error_body_is_redacted_by_the_client_too(
    status: int, cls: type[APIStatusError], secret: str
) -> None:
    """Should a body carry one (a proxy's, an older server's), the client redacts it itself."""
    if status == 404:
        body: dict[str, object] = {"type": "X", "message": f"no {secret}", "param": "id"}
    elif status == 409:
        body = {"type": "X", "message": f"taken by {secret}"}
    else:
        body = {
            "path": f"/v2/customers/{secret}",
            "details": [f"customer_id: {secret} is unknown"],
            "error": "Error",
            "status": status,
            "timestamp": "2025-01-20T18:18:22.923+00:00",
        }
    response = httpx.Response(status, json=body, headers={"request-id": "req_" + "0" * 24})
    error = _core.error_from_response(response)
    assert type(error) is cls
    assert error.request_id == "req_" + "0" * 24
    assert_hidden(secret, *texts_of(error))


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_a_response_that_does_not_match_its_model_never_echoes_what_it_held(secret: str) -> None:
    call = ops.GET_SESSION.call(path={"session_id": "X"})
    response = httpx.Response(200, json={"id": 7, "client_secret": secret, "expires_at": None})
    with pytest.raises(APIError) as caught:
        _core.parse_success(call, response)
    assert "getSession: the response does not match CustomerSession" in str(caught.value)
    assert "id: Input should be a valid string" in str(caught.value)
    cause = caught.value.__context__  # the ValidationError, suppressed (raise ... from None)
    assert_hidden(secret, *texts_of(caught.value), str(cause), repr(cause))


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_the_clients_own_exceptions_redact_a_secret_in_their_message(secret: str) -> None:
    for error in (
        APIConnectionError(f"could not reach {secret}"),
        WebhookVerificationError(f"bad {secret}"),
    ):
        assert_hidden(secret, *texts_of(error))


def test_retries_are_logged_without_a_secret(
    sync_app: SyncApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log line of a retried call, the SDK's and httpx's (at DEBUG), lacks the key and the
    secret it returned."""
    from sdk.gateway import Gateway, Script

    script = Script(["503", "drop-after"])
    api_key = sync_app.new_partner()[1]
    client = sync_app.client(api_key, transport=Gateway(sync_app.transport(), script))
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="httpx"),
        caplog.at_level(logging.DEBUG, logger="httpcore"),
    ):
        session = client.customer_sessions.create(partner_customer_id=pcid())
    assert len(script.seen) == 3
    assert any(r.name == "httpx" for r in caplog.records)  # httpx's own lines were seen
    assert any("retry 2 of 2" in r.getMessage() for r in caplog.records)
    assert_hidden(api_key, caplog.text)
    assert_hidden(session.client_secret, caplog.text)
