"""One exception class per kind of failure, each with ``status``, ``request_id`` and ``body``.

=========================  =====================================================================
``InvalidRequestError``    400 (and 413, 422): ``details`` lists every problem, ``field: message``
``AuthenticationError``    401: no valid API key
``PermissionDeniedError``  403: a valid key that may not do this (a merchant key not yours, ...)
``NotFoundError``          404: ``type``, ``message``, ``param``
``ConflictError``          409: ``type``, ``message``
``RateLimitError``         429: ``retry_after`` seconds
``APIError``               5xx, or any other status
``APIConnectionError``     no response (refused, reset, timed out: ``APITimeoutError``)
=========================  =====================================================================

``ImprintError`` is the base of all of them (and of ``WebhookVerificationError``). No exception's
text or ``repr`` carries a credential: what the server sends is already redacted, and the client
redacts again anything shaped like one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imprint_client._redact import redact
from imprint_client.models import ConflictErrorBody, ErrorBody, NotFoundErrorBody

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "ConflictError",
    "ErrorDetail",
    "ImprintError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "WebhookVerificationError",
]

AnyErrorBody = ErrorBody | NotFoundErrorBody | ConflictErrorBody


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of an error's ``details``: ``"customer_history.email: must be ..."`` is
    ``field="customer_history.email"``, ``message="must be ..."``. ``field`` is ``None`` for a
    detail that names none."""

    field: str | None
    message: str

    @classmethod
    def parse(cls, detail: str) -> ErrorDetail:
        field, sep, message = detail.partition(": ")
        if not sep or not field:
            return cls(None, detail)
        return cls(field, message)

    def __str__(self) -> str:
        return self.message if self.field is None else f"{self.field}: {self.message}"


class ImprintError(Exception):
    """Base of every error the client raises."""

    message: str
    status: int | None
    request_id: str | None
    body: AnyErrorBody | None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        body: AnyErrorBody | None = None,
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.request_id = request_id
        self.body = body
        super().__init__(self.message)

    @property
    def details(self) -> list[ErrorDetail]:
        """The body's ``details`` parsed (empty for a 404, a 409, or no body)."""
        if isinstance(self.body, ErrorBody):
            return [ErrorDetail.parse(redact(d)) for d in self.body.details]
        return []

    @property
    def code(self) -> str | None:
        """The machine-readable kind, where the body has one: a 404's or 409's ``type``
        (``SESSION_NOT_FOUND_ERROR``, ``IDEMPOTENCY_KEY_IN_USE``), an ``error_code``."""
        if isinstance(self.body, NotFoundErrorBody | ConflictErrorBody):
            return self.body.type
        if isinstance(self.body, ErrorBody):
            extra: dict[str, Any] = self.body.model_extra or {}
            code = extra.get("error_code")
            return code if isinstance(code, str) else None
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: rebuilt from the attributes (multiprocessing, task queues).
        return (_rebuild, (type(self), dict(self.__dict__)))

    def __str__(self) -> str:
        parts = [self.message]
        if self.request_id:
            parts.append(f"(request_id: {self.request_id})")
        return redact(" ".join(parts))

    def __repr__(self) -> str:
        fields = [f"message={self.message!r}"]
        if self.status is not None:
            fields.append(f"status={self.status}")
        if self.code is not None:
            fields.append(f"code={self.code!r}")
        if self.request_id is not None:
            fields.append(f"request_id={self.request_id!r}")
        return redact(f"{type(self).__name__}({', '.join(fields)})")


def _rebuild(cls: type[ImprintError], state: dict[str, Any]) -> ImprintError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class APIStatusError(ImprintError):
    """The server answered with an error status (every class below but the connection errors)."""

    status: int

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        body: AnyErrorBody | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, request_id=request_id, body=body)
        self.retry_after = retry_after


class InvalidRequestError(APIStatusError):
    """400 (also 413, a body too large, and 422, an Idempotency-Key reused with another body)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, unknown or revoked (one answer for all)."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIStatusError):
    """404: what was asked for does not exist, or is not yours (indistinguishable)."""

    @property
    def type(self) -> str | None:
        return self.body.type if isinstance(self.body, NotFoundErrorBody) else None

    @property
    def param(self) -> str | None:
        return self.body.param if isinstance(self.body, NotFoundErrorBody) else None


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (``type`` says how)."""

    @property
    def type(self) -> str | None:
        return self.body.type if isinstance(self.body, ConflictErrorBody) else None


class RateLimitError(APIStatusError):
    """429: over the API key's rate limit; ``retry_after`` is the server's ``Retry-After``."""


class APIError(APIStatusError):
    """A 5xx, or any status the API does not document for the call."""


class APIConnectionError(ImprintError):
    """No response: the connection was refused or dropped, or the request failed to send."""


class APITimeoutError(APIConnectionError):
    """No response within the client's ``timeout``."""


class WebhookVerificationError(ImprintError):
    """A webhook request that is not a genuine, recent, well-formed event from the service."""
