"""Partner API wire schemas of the sandbox's test helpers (``/v2/test_helpers/...``): declared
faults, and webhook events fired on demand.

Same base models and conventions as ``partner.py``: optional fields are omitted, never null;
timestamps RFC-3339 with milliseconds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from imprint_sessions.domain import faults
from imprint_sessions.storage import records
from imprint_sessions.validation import Identifier, JsonInteger
from imprint_sessions.wire.partner import Timestamp, _RequestBody, _ResponseBody
from imprint_sessions.wire.serializers import From, serializer

FaultKind = Literal["error", "delay", "drop", "webhook_failure", "hosted_outcome"]
FaultStatus = Literal[429, 500, 503]
# Published as enums; the domain checks the same lists (``domain/faults.py``), and a unit test
# keeps them equal.
FaultOperation = Literal[
    "acceptClientApplicationOffer",
    "listAuditEvents",
    "confirmPhoneVerification",
    "createClientApplication",
    "createKey",
    "createSession",
    "createWebhookEndpoint",
    "deleteKey",
    "deleteWebhookEndpoint",
    "disableWebhookEndpoint",
    "exchangeClientSecret",
    "expireSession",
    "getClientProfile",
    "getClientSession",
    "getCurrentClientApplication",
    "getCustomer",
    "getPaymentMethod",
    "getSession",
    "listClientPaymentMethods",
    "listCustomerSessions",
    "listCustomers",
    "listPaymentMethods",
    "listWebhookEndpoints",
    "listWebhookEventDeliveries",
    "listWebhookEvents",
    "lockClientPaymentMethod",
    "replayWebhookDelivery",
    "rotateWebhookSecret",
    "searchCustomers",
    "simulateApplication",
    "startPhoneVerification",
    "unlockClientPaymentMethod",
    "updateClientProfile",
    "updateCustomer",
]
HostedOutcome = Literal[
    "IN_PROGRESS",
    "ERROR:INVALID_CLIENT_SECRET",
    "ERROR:NETWORK_CONNECTION_FAILED",
    "ERROR:SERVER_ERROR",
    "ERROR:TIMEOUT_ERROR",
    "ERROR:UNKNOWN_ERROR",
]
_SmallInt = Annotated[int, JsonInteger]

_FAULT_ID = "9A1C2B3D-4E5F-4A6B-8C7D-0E1F2A3B4C5D"
_ENDPOINT_ID = "1B7E3C9A-4D2F-4E8B-9A6C-5F0D1E2A3B4C"


class CreateFaultRequest(_RequestBody):
    """The body of POST /v2/test_helpers/faults: what should go wrong, and how often."""

    kind: FaultKind = Field(
        description=(
            "`error`: `operation` answers `status` instead of running; `delay`: it runs "
            "`delay_ms` late; `drop`: the connection is closed without an answer; "
            "`webhook_failure`: attempts to deliver to `endpoint_id` fail (not sent; recorded, "
            "and retried on the usual schedule); `hosted_outcome`: the hosted page's next start "
            "ends with `outcome`"
        ),
        examples=["error"],
    )
    operation: FaultOperation | None = Field(
        default=None,
        description="The operationId to fault (`error`, `delay`, `drop`)",
        examples=["createSession"],
    )
    status: FaultStatus | None = Field(
        default=None, description="The status `error` answers", examples=[503]
    )
    retry_after: _SmallInt | None = Field(
        default=None,
        strict=True,
        json_schema_extra={"minimum": 1, "maximum": faults.MAX_RETRY_AFTER_SECONDS},
        description="`Retry-After` of a 429 or 503, in seconds (default 1)",
        examples=[2],
    )
    delay_ms: _SmallInt | None = Field(
        default=None,
        strict=True,
        json_schema_extra={"minimum": 1, "maximum": faults.MAX_DELAY_MS},
        description="How long to wait (`delay`; with `error` and `drop`, before failing)",
        examples=[300],
    )
    endpoint_id: Identifier | None = Field(
        default=None,
        description="One of your webhook endpoints (`webhook_failure`)",
        examples=[_ENDPOINT_ID],
    )
    outcome: HostedOutcome | None = Field(
        default=None,
        description="What the hosted page reports (`hosted_outcome`), once, with the four keys",
        examples=["ERROR:TIMEOUT_ERROR"],
    )
    times: _SmallInt | None = Field(
        default=None,
        strict=True,
        json_schema_extra={"minimum": 1, "maximum": faults.MAX_TIMES},
        description=(
            "How many requests (attempts, starts) it applies to, the next ones first (default 1)"
        ),
        examples=[3],
    )
    until_deleted: bool | None = Field(
        default=None,
        strict=True,
        description="Apply to every request until you delete it (instead of `times`)",
        examples=[False],
    )


class Fault(_ResponseBody):
    """A declared test fault. Used-up faults stay listed, with `remaining` 0, until deleted."""

    id: str = Field(examples=[_FAULT_ID])
    kind: FaultKind
    operation: str | None = Field(default=None, examples=["createSession"])
    status: int | None = Field(default=None, examples=[503])
    retry_after: int | None = Field(default=None, examples=[2])
    delay_ms: int | None = Field(default=None, examples=[300])
    endpoint_id: str | None = Field(default=None, examples=[_ENDPOINT_ID])
    outcome: str | None = Field(default=None, examples=["ERROR:TIMEOUT_ERROR"])
    times: int | None = Field(
        default=None, description="As declared; absent when until deleted", examples=[3]
    )
    remaining: int | None = Field(
        default=None,
        description="Uses left (0: used up); absent when until deleted",
        examples=[2],
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])


class FaultList(_ResponseBody):
    """All your faults, oldest first (at most 100 are kept: one page)."""

    data: Annotated[list[Fault], From("items")]
    has_more: bool
    total: int


class DeletedFault(_ResponseBody):
    """A deleted fault: it no longer applies, on any process."""

    id: str = Field(examples=[_FAULT_ID])
    deleted: Literal[True] = True


class FireWebhookEventRequest(_RequestBody):
    """The body of POST /v2/test_helpers/webhook_events: one event, for one of your customers."""

    type: Literal["APPLICATION", "PAYMENT_METHOD"] = Field(
        description="The event type (the body's `object`)", examples=["APPLICATION"]
    )
    customer_id: Identifier | None = Field(
        default=None,
        description="Your customer (or name it by `partner_customer_id`)",
        examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"],
    )
    partner_customer_id: Identifier | None = Field(default=None, examples=["CUST_03476998"])
    status: Literal["OFFER_ACCEPTED", "REJECTED"] | None = Field(
        default=None, description="`APPLICATION`: the decision it reports", examples=["REJECTED"]
    )
    payment_method_id: Identifier | None = Field(
        default=None,
        description="`PAYMENT_METHOD`: one of the customer's (default: its newest)",
        examples=["5B1D2F3E-8A7C-4E6D-9F0A-1B2C3D4E5F60"],
    )
    previous_status: Literal["ACTIVE", "INACTIVE", "CANCELED"] | None = Field(
        default=None,
        description="`PAYMENT_METHOD`: the status it had (left out: null, as on creation)",
        examples=["ACTIVE"],
    )
    new_status: Literal["ACTIVE", "INACTIVE", "CANCELED"] | None = Field(
        default=None, description="`PAYMENT_METHOD`: the status it has now", examples=["INACTIVE"]
    )


FAULT = serializer(Fault, record=records.Fault)
FAULT_LIST = serializer(FaultList, record=records.Page)
