"""A typed client for the partner API of imprint-sessions (Imprint's customer-session API).

::

    from imprint_client import Imprint

    client = Imprint("isk_test_...", base_url="https://imprint.internal")
    session = client.customer_sessions.create(partner_customer_id="CUST_03476998")
    for customer in client.customers.list():
        ...

``AsyncImprint`` is the same for asyncio. ``imprint_client.webhooks.verify`` checks a webhook
request and returns its event. The server package (``imprint_sessions``) is not needed.
"""

from imprint_client import webhooks
from imprint_client._client import AsyncImprint, Imprint
from imprint_client._version import __version__
from imprint_client.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    ErrorDetail,
    ImprintError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WebhookVerificationError,
)
from imprint_client.models import (
    Address,
    ApplicationEvent,
    ApplicationEventData,
    AuditEvent,
    CreatedApiKey,
    CreatedSandbox,
    Customer,
    CustomerSession,
    CustomerSessionSummary,
    DateOfBirth,
    DeletedApiKey,
    DeletedFault,
    DeletedSandbox,
    DeletedWebhookEndpoint,
    Event,
    Fault,
    PaymentMethod,
    PaymentMethodCard,
    PaymentMethodEvent,
    PaymentMethodEventData,
    PaymentMethodLoan,
    Sandbox,
    SimulatedApplication,
    TestClock,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from imprint_client.pagination import AsyncPage, SyncPage

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "ApplicationEvent",
    "ApplicationEventData",
    "AsyncImprint",
    "AsyncPage",
    "AuditEvent",
    "AuthenticationError",
    "ConflictError",
    "CreatedApiKey",
    "CreatedSandbox",
    "Customer",
    "CustomerSession",
    "CustomerSessionSummary",
    "DateOfBirth",
    "DeletedApiKey",
    "DeletedFault",
    "DeletedSandbox",
    "DeletedWebhookEndpoint",
    "ErrorDetail",
    "Event",
    "Fault",
    "Imprint",
    "ImprintError",
    "InvalidRequestError",
    "NotFoundError",
    "PaymentMethod",
    "PaymentMethodCard",
    "PaymentMethodEvent",
    "PaymentMethodEventData",
    "PaymentMethodLoan",
    "PermissionDeniedError",
    "RateLimitError",
    "Sandbox",
    "SimulatedApplication",
    "SyncPage",
    "TestClock",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "webhooks",
]
