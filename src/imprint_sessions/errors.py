"""The error tree: every failure a caller can see, with no web imports (rendered in app.py)."""

from __future__ import annotations


class ImprintError(Exception):
    """Base of every error rendered to a caller."""

    status: int = 500
    error: str = "Internal Server Error"

    def __init__(self, *details: str) -> None:
        super().__init__("; ".join(details))
        self.details: list[str] = list(details)


class InvalidRequest(ImprintError):
    """400: the request is malformed; ``details`` lists every problem as ``"field: message"``."""

    status = 400
    error = "Bad Request"


class Unauthorized(ImprintError):
    """401: no valid credential. One message for every cause, so a caller learns nothing."""

    status = 401
    error = "Unauthorized"

    def __init__(self, *details: str, error_code: str | None = None) -> None:
        super().__init__(*(details or ("a valid API key is required",)))
        self.error_code = error_code


class Forbidden(ImprintError):
    """403: the credential is valid but may not do this."""

    status = 403
    error = "Forbidden"


class NotFound(ImprintError):
    """404 in Imprint's flat ``{type, message, param}`` shape."""

    status = 404
    error = "Not Found"

    def __init__(self, type_: str, message: str, param: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.param = param


class CustomerNotFound(NotFound):
    def __init__(self, customer_id: str, param: str = "customer_id") -> None:
        super().__init__(
            "CUSTOMER_NOT_FOUND_ERROR", f"Customer not found for provided ID: {customer_id}", param
        )


class SessionNotFound(NotFound):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            "SESSION_NOT_FOUND_ERROR",
            f"Session not found for provided ID: {session_id}",
            "session_id",
        )


class Conflict(ImprintError):
    """409 in Imprint's flat ``{type, message}`` shape."""

    status = 409
    error = "Conflict"

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


class PayloadTooLarge(ImprintError):
    status = 413
    error = "Payload Too Large"


class RateLimited(ImprintError):
    status = 429
    error = "Too Many Requests"

    def __init__(self, *details: str, retry_after: int = 1) -> None:
        super().__init__(*details)
        self.retry_after = retry_after


class ServiceUnavailable(ImprintError):
    status = 503
    error = "Service Unavailable"

    def __init__(self, *details: str, retry_after: int = 1) -> None:
        super().__init__(*details)
        self.retry_after = retry_after
