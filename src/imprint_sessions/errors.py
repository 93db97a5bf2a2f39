"""The error tree: every failure a caller can see, with no web imports (rendered in app.py)."""

from __future__ import annotations


class ImprintError(Exception):
    """Base of every error rendered to a caller."""

    status: int = 500
    error: str = "Internal Server Error"

    def __init__(self, *details: str) -> None:
        super().__init__("; ".join(details))
        self.details: list[str] = list(details)

    def body_extra(self) -> dict[str, object]:
        """Keys added to the flat error body after the usual five (``error_code``, ...)."""
        return {}


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

    def body_extra(self) -> dict[str, object]:
        return {"error_code": self.error_code} if self.error_code else {}


class InvalidClientSecret(Unauthorized):
    """401 at the exchange: used, expired, malformed and unknown secrets all look the same.

    ``reason`` says which it was, for the operators' metrics only: never rendered."""

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__(
            "client_secret: is invalid, expired or already used", error_code="INVALID_CLIENT_SECRET"
        )
        self.reason = reason


class ClientCredentialRequired(Unauthorized):
    """401 on the client API: a missing, forged, expired or revoked client credential."""

    def __init__(self) -> None:
        super().__init__("a valid client credential is required")


class IncorrectCode(InvalidRequest):
    """400: a wrong one-time code; the body also says how many tries are left."""

    def __init__(self, remaining_attempts: int) -> None:
        super().__init__("code: is incorrect")
        self.remaining_attempts = remaining_attempts

    def body_extra(self) -> dict[str, object]:
        return {"remaining_attempts": self.remaining_attempts}


class OtpLocked(ImprintError):
    """429 ``OTP_LOCKED``: too many wrong codes; only a new code (a new challenge) can verify."""

    status = 429
    error = "Too Many Requests"

    def __init__(self) -> None:
        super().__init__("code: too many incorrect attempts; request a new code")

    def body_extra(self) -> dict[str, object]:
        return {"error_code": "OTP_LOCKED"}


class OtpLimitReached(ImprintError):
    """429 ``OTP_LIMIT_REACHED``: this customer session has requested its last code."""

    status = 429
    error = "Too Many Requests"

    def __init__(self) -> None:
        super().__init__("phone: too many codes requested in this session")

    def body_extra(self) -> dict[str, object]:
        return {"error_code": "OTP_LIMIT_REACHED"}


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


class ApplicationNotFound(NotFound):
    def __init__(self, application_id: str | None = None) -> None:
        message = (
            f"Application not found for provided ID: {application_id}"
            if application_id is not None
            else "No application found for this customer"
        )
        super().__init__("APPLICATION_NOT_FOUND_ERROR", message, "application_id")


class PaymentMethodNotFound(NotFound):
    def __init__(self, payment_method_id: str) -> None:
        super().__init__(
            "PAYMENT_METHOD_NOT_FOUND_ERROR",
            f"Payment method not found for provided ID: {payment_method_id}",
            "payment_method_id",
        )


class WebhookEndpointNotFound(NotFound):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(
            "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR",
            f"Webhook endpoint not found for provided ID: {endpoint_id}",
            "endpoint_id",
        )


class WebhookEventNotFound(NotFound):
    def __init__(self, event_id: str, param: str = "event_id") -> None:
        super().__init__(
            "WEBHOOK_EVENT_NOT_FOUND_ERROR",
            f"Webhook event not found for provided ID: {event_id}",
            param,
        )


class WebhookDeliveryNotFound(NotFound):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(
            "WEBHOOK_DELIVERY_NOT_FOUND_ERROR",
            f"Webhook delivery not found for provided ID: {delivery_id}",
            "delivery_id",
        )


class PartnerNotFound(NotFound):
    def __init__(self, partner_id: str) -> None:
        super().__init__(
            "PARTNER_NOT_FOUND_ERROR",
            f"Partner not found for provided ID: {partner_id}",
            "partner_id",
        )


class SandboxNotFound(NotFound):
    def __init__(self, sandbox_id: str) -> None:
        super().__init__(
            "SANDBOX_NOT_FOUND_ERROR",
            f"Sandbox not found for provided ID: {sandbox_id}",
            "sandbox_id",
        )


class TestClockNotFound(NotFound):
    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, sandbox_id: str) -> None:
        super().__init__(
            "TEST_CLOCK_NOT_FOUND_ERROR",
            f"Sandbox {sandbox_id} has no test clock: create a sandbox with `test_clock` for one",
            "sandbox_id",
        )


class Conflict(ImprintError):
    """409 in Imprint's flat ``{type, message}`` shape."""

    status = 409
    error = "Conflict"

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


class IdempotencyKeyReused(ImprintError):
    """422: an ``Idempotency-Key`` already used with a different request (flat 400-style body)."""

    status = 422
    error = "Unprocessable Entity"

    def __init__(self) -> None:
        super().__init__("idempotency-key: was used with a different request body")


class ApplicationStateConflict(Conflict):
    def __init__(self, application_id: str, status: str) -> None:
        super().__init__(
            "INVALID_APPLICATION_STATE_ERROR",
            f"Application {application_id} is {status}; only an APPROVED offer can be accepted",
        )


class PaymentMethodStateConflict(Conflict):
    def __init__(self, payment_method_id: str, reason: str) -> None:
        super().__init__(
            "INVALID_PAYMENT_METHOD_STATE_ERROR", f"Payment method {payment_method_id} {reason}"
        )


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


# -- partner API completeness (issue 5) ------------------------------------------------------------


class ApiKeyNotFound(NotFound):
    def __init__(self, api_key_id: str) -> None:
        super().__init__(
            "KEY_NOT_FOUND_ERROR", f"Key not found for provided ID: {api_key_id}", "id"
        )


class CustomerConflict(Conflict):
    """409: the change would give two of a partner's customers one ``partner_customer_id``."""

    def __init__(self, message: str) -> None:
        super().__init__("CUSTOMER_CONFLICT_ERROR", message)


class ApiKeyConflict(Conflict):
    """409: the key change would leave the partner with no key, or with too many."""

    def __init__(self, message: str) -> None:
        super().__init__("KEY_CONFLICT_ERROR", message)


# -- sandbox test helpers (issue 16) ---------------------------------------------------------------


class FaultNotFound(NotFound):
    def __init__(self, fault_id: str) -> None:
        super().__init__(
            "FAULT_NOT_FOUND_ERROR", f"Fault not found for provided ID: {fault_id}", "fault_id"
        )


class ForcedServerError(ImprintError):
    """500 answered on purpose: a sandbox test fault, in the body every 500 has."""

    status = 500
    error = "Internal Server Error"
