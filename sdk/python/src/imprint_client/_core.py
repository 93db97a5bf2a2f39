"""What the sync and async clients share: an operation's description, one call's request, when a
failure is retried (and after how long), and how a response becomes a model or an exception.

Only the sending and the sleeping differ between ``Imprint`` and ``AsyncImprint``.
"""

from __future__ import annotations

import enum
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from imprint_client import _check
from imprint_client._version import __version__
from imprint_client.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from imprint_client.models import ConflictErrorBody, ErrorBody, NotFoundErrorBody

R = TypeVar("R", bound=BaseModel)

USER_AGENT = f"imprint-client-python/{__version__}"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MERCHANT_KEY_HEADER = "x-imprint-merchant-key"
TEST_FAULT_HEADER = "Imprint-Test-Fault"
IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"

# Backoff: the n-th retry waits between half and all of min(INITIAL x 2^(n-1), MAX) seconds; a
# Retry-After is honoured (never retried sooner) up to MAX_RETRY_AFTER, beyond which the error is
# raised at once rather than blocking the call for minutes.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0


class Retry(enum.Enum):
    """When an operation may be sent again after a failure."""

    # Reads, deletes, the customer search and a sandbox reset: repeating changes nothing more.
    SAFE = "safe"
    # A POST that takes an Idempotency-Key: every attempt carries the same key, so the server
    # runs it once and replays its response.
    KEYED = "keyed"
    # A POST that shows a secret once (a new API key, a webhook signing secret, a sandbox's key)
    # and so refuses an Idempotency-Key, or one that takes no key and is not safe to repeat
    # (advancing a test clock by seconds): sent again only where it cannot have been run (no
    # connection was made; a 429 or a 503, which change nothing).
    ONCE = "once"


@dataclass(frozen=True, slots=True)
class Operation(Generic[R]):
    """One operation of the served spec, as the client calls it."""

    operation_id: str
    method: Literal["GET", "POST", "DELETE"]
    path: str  # the spec's template: /v2/customers/{customer_id}
    response: type[R]
    retry: Retry
    body: Any = None  # the TypedDict of its JSON body (params.py), if it takes one
    query: tuple[str, ...] = ()
    merchant_key: bool = False  # takes x-imprint-merchant-key
    # Lists walked with limit/starting_after: where starting_after goes ("query" or "body").
    pages_by: Literal["query", "body"] | None = None
    # The sandbox takes Imprint-Test-Fault (the client's ``test_fault``) on it: every operation
    # a test fault may name, no test helper.
    test_fault: bool = True

    def call(
        self,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
        idempotency_key: str | None = None,
        merchant_key: str | None = None,
    ) -> Call[R]:
        """One call of this operation; ``None`` values are left out (the server refuses null)."""
        filled = self.path
        for name, value in (path or {}).items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"{self.operation_id}: {name} must be a non-empty string")
            # The server decodes %2F before routing, and URLs drop dot segments: an id with a
            # slash, or "..", would name another route. No id the service issues has either.
            if "/" in value or value in (".", ".."):
                raise ValueError(f"{self.operation_id}: {name} is not an id")
            filled = filled.replace("{" + name + "}", quote(value, safe=""))
        sent_query = {k: v for k, v in (query or {}).items() if v is not None}
        sent_body: dict[str, object] | None = None
        if body is not None:
            sent_body = {k: v for k, v in body.items() if v is not None}
            self._check_body(sent_body)
        if self.retry is Retry.KEYED:
            if idempotency_key is None:  # one key for every attempt of this call
                idempotency_key = str(uuid.uuid4())
        elif idempotency_key is not None:
            raise ValueError(f"{self.operation_id} takes no Idempotency-Key")
        return Call(self, filled, sent_query, sent_body, idempotency_key, merchant_key)

    def _check_body(self, body: dict[str, object]) -> None:
        found = _check.problems(body, self.body, "")
        if found:
            raise TypeError(f"{self.operation_id}: {'; '.join(found)}")


@dataclass(frozen=True, slots=True)
class Call(Generic[R]):
    """One call: the operation and what it sends. Every attempt of it sends exactly this."""

    operation: Operation[R]
    path: str
    query: dict[str, object]
    body: dict[str, object] | None
    idempotency_key: str | None
    merchant_key: str | None  # given for this call (else the client's own, if the op takes one)

    def after(self, starting_after: str) -> Call[R]:
        """The call for the page after the item ``starting_after``."""
        if self.operation.pages_by == "body":
            return replace(self, body={**(self.body or {}), "starting_after": starting_after})
        return replace(self, query={**self.query, "starting_after": starting_after})


@dataclass(frozen=True, slots=True)
class Config:
    """A client's settings (``with_options`` makes a changed copy)."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    merchant_key: str | None
    test_fault: str | None = None

    def request_parts(self, call: Call[Any]) -> dict[str, Any]:
        """The keyword arguments of ``httpx.Client.build_request`` for one attempt."""
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        content = None
        if call.body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(call.body, separators=(",", ":"), allow_nan=False).encode()
        if call.idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = call.idempotency_key
        merchant_key = call.merchant_key or self.merchant_key
        if call.operation.merchant_key and merchant_key:
            headers[MERCHANT_KEY_HEADER] = merchant_key
        if call.operation.test_fault and self.test_fault is not None:
            headers[TEST_FAULT_HEADER] = self.test_fault
        return {
            "method": call.operation.method,
            "url": self.base_url + call.path,
            # A list is the parameter repeated (type=a&type=b).
            "params": {
                k: [str(i) for i in v] if isinstance(v, list) else str(v)
                for k, v in call.query.items()
            },
            "headers": headers,
            "content": content,
            "timeout": self.timeout,
        }


def make_config(
    api_key: str,
    base_url: str,
    timeout: float | httpx.Timeout,
    max_retries: int,
    merchant_key: str | None,
    test_fault: str | None = None,
) -> Config:
    if not (isinstance(api_key, str) and api_key and api_key.isascii() and api_key.isprintable()):
        raise ValueError("api_key must be a non-empty string of printable ASCII characters")
    if api_key != api_key.strip() or " " in api_key:
        raise ValueError("api_key must not contain spaces")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    if max_retries < 0:
        raise ValueError("max_retries must be 0 or more")
    if test_fault is not None and not (
        isinstance(test_fault, str) and test_fault.isascii() and test_fault.isprintable()
    ):
        raise ValueError("test_fault must be a string of printable ASCII characters")
    return Config(
        api_key=api_key,
        base_url=base_url.rstrip("/"),
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        max_retries=max_retries,
        merchant_key=merchant_key,
        test_fault=test_fault,
    )


# -- retries -------------------------------------------------------------------------------------

# No connection was made, so nothing was sent: any operation may go again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the server (a read timed out, the connection dropped).
_MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def retry_delay(
    retries_done: int,
    retry_after: float | None,
    *,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before retry ``retries_done + 1``, or ``None`` to give up (a
    ``Retry-After`` longer than ``MAX_RETRY_AFTER``). Capped, jittered exponential backoff; a
    ``Retry-After`` is waited in full, plus up to a quarter more so that clients told the same
    time do not all come back at once."""
    if retry_after is not None:
        if retry_after > MAX_RETRY_AFTER:
            return None
        return retry_after * (1 + rand() / 4)
    ceiling = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * 2.0**retries_done)
    return ceiling * (0.5 + rand() / 2)


def transport_error_is_retryable(call: Call[Any], exc: httpx.TransportError) -> bool:
    if isinstance(exc, _NOT_SENT):
        return True
    return isinstance(exc, _MAYBE_SENT) and call.operation.retry is not Retry.ONCE


def status_error_is_retryable(call: Call[Any], error: APIStatusError) -> bool:
    retry = call.operation.retry
    if error.status in (429, 503):  # refused before any work: nothing happened
        return True
    if error.status in (502, 504):  # a gateway lost the answer: it may have run
        return retry is not Retry.ONCE
    if isinstance(error, ConflictError) and error.type == IDEMPOTENCY_KEY_IN_USE:
        return retry is Retry.KEYED  # the first attempt of this very call is still running
    return False


# -- responses -----------------------------------------------------------------------------------


def parse_success(call: Call[R], response: httpx.Response) -> R:
    try:
        return call.operation.response.model_validate_json(response.content)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise APIError(
            f"{call.operation.operation_id}: the response does not match "
            f"{call.operation.response.__name__}: {problems}",
            status=response.status_code,
            request_id=response.headers.get("request-id"),
        ) from None


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> APIStatusError:
    status = response.status_code
    body = _error_body(status, response.content)
    if isinstance(body, ErrorBody):
        message = f"{status} {body.error}" + (
            ": " + "; ".join(body.details) if body.details else ""
        )
    elif body is not None:
        message = f"{status} {body.type}: {body.message}"
    else:
        message = f"{status} {response.reason_phrase or 'error'}"
    cls = _BY_STATUS.get(status, APIError)
    return cls(
        message,
        status=status,
        request_id=response.headers.get("request-id"),
        body=body,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _error_body(
    status: int, content: bytes
) -> ErrorBody | NotFoundErrorBody | ConflictErrorBody | None:
    shapes: tuple[type[ErrorBody | NotFoundErrorBody | ConflictErrorBody], ...]
    if status == 404:
        shapes = (NotFoundErrorBody, ErrorBody)  # an unknown path is the flat shape
    elif status == 409:
        shapes = (ConflictErrorBody,)
    else:
        shapes = (ErrorBody,)
    for shape in shapes:
        try:
            return shape.model_validate_json(content)
        except ValidationError:
            continue
    return None  # not the API's (a proxy's page, say)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def connection_error(exc: httpx.TransportError, call: Call[Any]) -> APIConnectionError:
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    what = "timed out" if cls is APITimeoutError else "failed"
    name = call.operation.operation_id
    return cls(f"{name}: the connection {what} ({type(exc).__name__}: {exc})")


def describe(error: Exception) -> str:
    """A failure as a retry log line names it: the status or the exception class, no text."""
    if isinstance(error, APIStatusError):
        code = f" {error.code}" if error.code else ""
        return f"HTTP {error.status}{code}"
    return type(error.__cause__ or error).__name__
