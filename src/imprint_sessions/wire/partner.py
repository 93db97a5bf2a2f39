"""Partner API wire schemas: the seed's request, response and error bodies, field for field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.domain.customer_sessions import IssuedCustomerSession, customer_session_state
from imprint_sessions.storage import records
from imprint_sessions.validation import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    SESSION_TTL_MAX_SECONDS,
    SESSION_TTL_MIN_SECONDS,
    AddressLine,
    CountryCode,
    CurrencyCode,
    EmailAddress,
    Identifier,
    JsonInteger,
    LanguageCode,
    LoyaltyTier,
    Metadata,
    NonNegativeInteger,
    PersonName,
    PhoneNumber,
    PostalCode,
    Rfc3339Timestamp,
    Source,
    Ssn,
    requires_field,
)
from imprint_sessions.wire.serializers import From, json_object, json_object_or_none, serializer

__all__ = [
    "Address",
    "ConflictError",
    "CreateCustomerSessionRequest",
    "CreatedApiKey",
    "Customer",
    "CustomerAccountHistory",
    "CustomerList",
    "CustomerPaymentMethodList",
    "CustomerSession",
    "CustomerSessionList",
    "CustomerSessionSummary",
    "DateOfBirth",
    "DateOfBirthInput",
    "DeleteApiKeyRequest",
    "DeletedApiKey",
    "InvalidRequestError",
    "NotFoundError",
    "PaymentMethod",
    "PaymentMethodCard",
    "PaymentMethodLoan",
    "SearchCustomersRequest",
    "UpdateCustomerRequest",
]


def _without_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Publish optional fields as the seed does: absent when unknown, never ``null``.

    An optional field is ``X | None`` in Python (``None`` is "not sent"); pydantic renders that as
    ``anyOf: [X, {type: null}]`` with ``default: null``, which the seed does not say. The null
    branch and the null default are dropped from the schema, and a request body refuses an
    explicit ``null`` (``_RequestBody``), so what is published is what is enforced.
    """
    for prop in schema.get("properties", {}).values():
        branches = prop.get("anyOf")
        if branches and {"type": "null"} in branches:
            rest = [branch for branch in branches if branch != {"type": "null"}]
            if len(rest) == 1:
                del prop["anyOf"]
                prop.update(rest[0])
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    # A model's own rules on a shared field type (a name that may not be blanked).
    for name, extra in getattr(model, "PROPERTY_SCHEMA", {}).items():
        schema["properties"][name].update(extra)
    # A field that needs another (a currency its amount): JSON Schema's dependentRequired.
    dependent: dict[str, list[str]] = getattr(model, "DEPENDENT_REQUIRED", {})
    if dependent:
        schema["dependentRequired"] = dependent
    # Fields of which exactly one is sent (the domain refuses none and both, with a 400).
    exactly_one: tuple[str, ...] = getattr(model, "EXACTLY_ONE_OF", ())
    if exactly_one:
        schema["oneOf"] = [{"required": [name]} for name in exactly_one]


class _RequestBody(BaseModel):
    # Unknown fields are ignored, not refused: the seed leaves additionalProperties open, and a
    # partner sending a field from a newer API version must not start failing.
    model_config = ConfigDict(extra="ignore", json_schema_extra=_without_null)

    # The seed types every field (``customer_id: string``), never ``null``: a field is sent with a
    # value of its type or left out. Runs for sent fields only (defaults are not validated).
    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null", "must not be null (leave the field out instead)")
        return value


class _ResponseBody(BaseModel):
    model_config = ConfigDict(json_schema_extra=_without_null)


class Address(_RequestBody):
    """Mailing address information"""

    street_line1: AddressLine | None = Field(
        default=None, description="Primary street address", examples=["123 Main St"]
    )
    street_line2: AddressLine | None = Field(
        default=None,
        description="Secondary street address (apartment, suite, etc.)",
        examples=["Apt 4B"],
    )
    city: AddressLine | None = Field(
        default=None, description="City name", examples=["San Francisco"]
    )
    state: AddressLine | None = Field(
        default=None, description="State or province", examples=["CA"]
    )
    postal_code: PostalCode | None = Field(
        default=None, description="ZIP or postal code", examples=["94105"]
    )
    country: CountryCode | None = Field(
        default=None, description="ISO-3166-1 alpha-3 Country Code", examples=["USA"]
    )


class _ContactFields(_RequestBody):
    """The contact fields shared by the seed's customer history and the customer update."""

    email: EmailAddress | None = Field(
        default=None, description="Customer's email address", examples=["customer@example.com"]
    )
    phone: PhoneNumber | None = Field(
        default=None,
        description="Customer's phone number in E.164 format",
        examples=["+14155552671"],
    )
    first_name: PersonName | None = Field(
        default=None, description="The customer's first name", examples=["John"]
    )
    last_name: PersonName | None = Field(
        default=None, description="The customer's last name", examples=["Doe"]
    )
    preferred_language: LanguageCode | None = Field(
        default=None,
        description="Customer's preferred language code as defined by ISO 639-1",
        examples=["en"],
    )


class CustomerAccountHistory(_ContactFields):
    """A Customer's account history with the partner"""

    DEPENDENT_REQUIRED: ClassVar[dict[str, list[str]]] = {"ltv_currency": ["ltv_amount"]}

    address: Address | None = None
    account_tenure: NonNegativeInteger | None = Field(
        default=None,
        description="The customer's account tenure with the partner, in months",
        examples=[13],
    )
    ltv_amount: NonNegativeInteger | None = Field(
        default=None,
        description=(
            "The Life Time Value for the customer's account, in the min currency unit "
            "(cents for USD)"
        ),
        examples=[34000],
    )
    ltv_currency: CurrencyCode | None = Field(
        default=None,
        description="The 3 char currency code of the amount in iso-4217",
        examples=["USD"],
    )
    loyalty_tier: LoyaltyTier | None = Field(
        default=None, description="The customer's current loyalty tier", examples=["GOLD"]
    )
    account_created_at: Rfc3339Timestamp | None = Field(
        default=None,
        description=(
            "The RFC-3339 timestamp when the customer's account was created with the partner"
        ),
        examples=["2025-02-13T19:08:07.000Z"],
    )
    transaction_count: NonNegativeInteger | None = Field(
        default=None,
        description="The number of lifetime transactions the customer has made with the partner",
        examples=[100],
    )

    # info.data holds the fields declared above this one that validated (defaults included), so
    # ltv_amount must stay declared before ltv_currency. An invalid ltv_amount is absent from
    # info.data: it has its own detail, and this rule stays quiet rather than contradict it.
    @field_validator("ltv_currency")
    @classmethod
    def _ltv_currency_requires_amount(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and "ltv_amount" in info.data and info.data["ltv_amount"] is None:
            raise requires_field("ltv_amount")
        return value


SessionLifetime = Annotated[
    int, Field(strict=True, ge=SESSION_TTL_MIN_SECONDS, le=SESSION_TTL_MAX_SECONDS), JsonInteger
]


class CreateCustomerSessionRequest(_RequestBody):
    """The body of POST /v2/customer_sessions; every field is optional."""

    DEPENDENT_REQUIRED: ClassVar[dict[str, list[str]]] = {
        "transaction_currency": ["transaction_amount"]
    }

    customer_id: Identifier | None = Field(
        default=None,
        description=(
            "Unique identifier for the Imprint customer, if creating a customer session for a "
            "known imprint customer that the id is available for"
        ),
        examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"],
    )
    partner_customer_id: Identifier | None = Field(
        default=None,
        description="The unique identifier for the customer in the partner's system",
        examples=["CUST_03476998"],
    )
    # Without a currency the amount is USD; the domain fills that in, not this model.
    transaction_amount: NonNegativeInteger | None = Field(
        default=None,
        description=(
            "The current transaction amount, if the session is currently executing a "
            "transaction. integer value in the min currency unit (cents for USD)"
        ),
        examples=[34000],
    )
    transaction_currency: CurrencyCode | None = Field(
        default=None,
        description="The 3 char currency code of the amount in iso-4217",
        examples=["USD"],
    )
    customer_history: CustomerAccountHistory | None = None
    source: Source | None = Field(
        default=None, description="The source where the session is initiated"
    )
    metadata: Metadata | None = Field(
        default=None,
        description="Additional linking metadata",
        examples=[{"store_number": "123"}],
    )
    # Additive, not in the seed: the caller's choice of lifetime, within the server's bounds.
    expires_in: SessionLifetime | None = Field(
        default=None,
        description=(
            f"Seconds until the `client_secret` expires, {SESSION_TTL_MIN_SECONDS} to "
            f"{SESSION_TTL_MAX_SECONDS}; without it, the deployment's default "
            "(`IMPRINT_SESSION_TTL_SECONDS`, 1800 unless configured)"
        ),
        examples=[900],
    )

    # Same ordering contract as CustomerAccountHistory: transaction_amount is declared first.
    @field_validator("transaction_currency")
    @classmethod
    def _currency_requires_amount(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (
            value is not None
            and "transaction_amount" in info.data
            and info.data["transaction_amount"] is None
        ):
            raise requires_field("transaction_amount")
        return value


# Responses. Optional fields are omitted, never null: serialise with exclude_none=True
# (FastAPI: response_model_exclude_none=True).

# A stored epoch-millisecond time, on the wire as RFC 3339 with milliseconds (serializers.py).
Timestamp = Annotated[str, From(convert=rfc3339_ms)]
OptionalTimestamp = Annotated[str | None, From(convert=rfc3339_ms)]


class CustomerSession(_ResponseBody):
    """Represents a session created on behalf of an Imprint customer"""

    id: str = Field(
        description="The unique ID Imprint assigns to the session.",
        examples=["2EE24580-B97B-4949-A65C-929CCB9B9B8D"],
    )
    client_secret: str = Field(
        description=(
            "Not to be logged or stored. Provide this one time use token to the Imprint SDK or "
            "other client side code to allow the customer access to edit their own account or "
            "apply"
        ),
        examples=["QzMyNzg4QzgtNEUwOS00QkU4LThDMjEtMkU5OUQ3QzkwRDhGCg=="],
    )
    expires_at: Timestamp = Field(
        description="the RFC-3339 timestamp when the `client_secret` will expire.",
        examples=["2025-02-13T19:08:07.000Z"],
    )
    metadata: Annotated[dict[str, Any] | None, From("metadata_json", raw_json=True)] = Field(
        default=None,
        description=(
            "Set of key-value pairs for storing additional information about the customer session."
        ),
        examples=[{"store_number": "123"}],
    )
    source: str | None = Field(
        default=None,
        description="The source where the session was initiated",
        examples=["web_signup"],
    )


class _ErrorBody(_ResponseBody):
    # An error body has exactly its declared keys, so a client can parse it strictly.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)


class InvalidRequestError(_ErrorBody):
    """The body of a 400 (and of 401, 403, 413, 429 and 5xx): every problem, at once."""

    path: str = Field(
        description="The path of the endpoint returning the error", examples=["/v2/customers"]
    )
    details: list[str] = Field(
        description="The details of the error being returned",
        examples=[["email: must be a well-formed email address"]],
    )
    error: str = Field(description="The category of error being returned", examples=["Bad Request"])
    status: int = Field(description="The HTTP status code of the error", examples=[400])
    timestamp: str = Field(
        description="The timestamp that the error occurred",
        examples=["2025-01-20T18:18:22.923+00:00"],
    )


class NotFoundError(_ErrorBody):
    """The body of a 404."""

    type: str = Field(
        description="The kind of object that was not found",
        examples=["SESSION_NOT_FOUND_ERROR"],
    )
    message: str = Field(
        description="A human-readable explanation",
        examples=["Session not found for provided ID: 2EE24580-B97B-4949-A65C-929CCB9B9B8D"],
    )
    param: str = Field(
        description="The request parameter that named the missing object",
        examples=["session_id"],
    )


class ConflictError(_ErrorBody):
    """The body of a 409."""

    type: str = Field(description="The kind of conflict", examples=["CONFLICT_ERROR"])
    message: str = Field(
        description="A human-readable explanation",
        examples=["The request conflicts with the current state of the resource"],
    )


# -- partner API completeness (issue 5): customers, payment methods, keys, session lifecycle ------

ListLimit = Annotated[int, Field(strict=True, ge=1, le=LIST_LIMIT_MAX), JsonInteger]
_DATE_OF_BIRTH_MIN_YEAR = 1900


class DateOfBirthInput(_RequestBody):
    """A date of birth: a real calendar date, from 1900 and not in the future."""

    year: Annotated[int, JsonInteger] = Field(
        strict=True, ge=_DATE_OF_BIRTH_MIN_YEAR, le=9999, examples=[1990]
    )
    month: Annotated[int, JsonInteger] = Field(strict=True, ge=1, le=12, examples=[4])
    day: Annotated[int, JsonInteger] = Field(strict=True, ge=1, le=31, examples=[15])

    @model_validator(mode="after")
    def _a_real_past_date(self) -> DateOfBirthInput:
        try:
            born = date(self.year, self.month, self.day)
        except ValueError:
            raise PydanticCustomError("date_of_birth", "must be a real calendar date") from None
        if born > datetime.now(UTC).date():
            raise PydanticCustomError("date_of_birth", "must not be in the future")
        return self

    def iso(self) -> str:
        """The stored form, ``YYYY-MM-DD``."""
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


class SearchCustomersRequest(_RequestBody):
    """The body of POST /v2/customers: a search, not a create. Every given filter must match."""

    DEPENDENT_REQUIRED: ClassVar[dict[str, list[str]]] = {"ssn": ["date_of_birth"]}

    partner_customer_id: Identifier | None = Field(
        default=None,
        description="The unique identifier for the customer in the partner's system",
        examples=["CUST_03476998"],
    )
    # Declared before ssn, which depends on it (see CustomerAccountHistory's ordering contract).
    date_of_birth: DateOfBirthInput | None = None
    ssn: Ssn | None = Field(
        default=None,
        repr=False,  # never in a log line or a traceback
        description=(
            "The customer's full Social Security number (9 digits, dashes optional); requires "
            "`date_of_birth`. Matched against a keyed hash: the full SSN is never stored"
        ),
        examples=["123-45-6789"],
    )
    limit: ListLimit = Field(
        default=LIST_LIMIT_DEFAULT,
        description=f"Customers per page, 1 to {LIST_LIMIT_MAX}",
        examples=[LIST_LIMIT_DEFAULT],
    )
    starting_after: Identifier | None = Field(
        default=None,
        description="A customer id from the previous page (its last): the page after it",
        examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"],
    )

    # An SSN alone would let a caller confirm which SSNs are among its customers'; with the date of
    # birth it finds one person. An invalid date_of_birth has its own detail: stay quiet then.
    @field_validator("ssn")
    @classmethod
    def _ssn_requires_date_of_birth(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("date_of_birth", False) is None:
            raise requires_field("date_of_birth")
        return value


class UpdateCustomerRequest(_ContactFields):
    """The body of POST /v2/customers/{customer_id}: only the fields sent change."""

    address: Address | None = Field(
        default=None, description="Replaces the whole mailing address (fields not sent are removed)"
    )
    date_of_birth: DateOfBirthInput | None = None
    ssn: Ssn | None = Field(
        default=None,
        repr=False,  # never in a log line or a traceback
        description=(
            "The customer's full Social Security number (9 digits, dashes optional). Only its "
            "last four digits (`ssn4`) and a keyed hash (for search) are kept"
        ),
        examples=["123-45-6789"],
    )
    partner_customer_id: Identifier | None = Field(
        default=None,
        description=(
            "The unique identifier for the customer in the partner's system; unique among your "
            "customers (409 `CUSTOMER_CONFLICT_ERROR` when another has it)"
        ),
        examples=["CUST_03476998"],
    )
    metadata: Metadata | None = Field(
        default=None,
        description=(
            "Merged into the customer's metadata: keys sent are set, an empty string deletes "
            "its key, keys not sent are kept. The result must stay within the metadata limits"
        ),
        examples=[{"loyalty_id": "L-123", "old_key": ""}],
    )

    PROPERTY_SCHEMA: ClassVar[dict[str, dict[str, Any]]] = {
        "first_name": {"minLength": 1},
        "last_name": {"minLength": 1},
    }

    # A name can be corrected, not blanked (no field of an update clears one).
    @field_validator("first_name", "last_name")
    @classmethod
    def _names_are_not_empty(cls, value: str | None) -> str | None:
        if value == "":
            raise PydanticCustomError("name_empty", "must not be empty")
        return value


class DeleteApiKeyRequest(_RequestBody):
    """The body of DELETE /v2/keys."""

    id: Identifier = Field(
        description="The id of the key to delete (one of yours)",
        examples=["7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F"],
    )


def date_parts(text: str) -> dict[str, int]:
    """A stored ``YYYY-MM-DD`` as the wire's ``DateOfBirth`` object."""
    year, month, day = (int(part) for part in text.split("-"))
    return {"year": year, "month": month, "day": day}


class DateOfBirth(_ResponseBody):
    year: int = Field(examples=[1990])
    month: int = Field(examples=[4])
    day: int = Field(examples=[15])


class Customer(_ResponseBody):
    """An Imprint customer, as its partner sees it. Fields never set are omitted."""

    id: str = Field(
        description="The unique ID Imprint assigns to the customer",
        examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"],
    )
    email: str | None = Field(default=None, examples=["customer@example.com"])
    phone: str | None = Field(default=None, description="E.164", examples=["+14155552671"])
    first_name: str | None = Field(default=None, examples=["John"])
    last_name: str | None = Field(default=None, examples=["Doe"])
    preferred_language: str | None = Field(default=None, description="ISO 639-1", examples=["en"])
    ssn4: str | None = Field(
        default=None, description="The last four digits of the SSN", examples=["6789"]
    )
    date_of_birth: Annotated[DateOfBirth | None, From(convert=date_parts)] = None
    address: Annotated[Address | None, From("address_json", convert=json_object_or_none)] = None
    partner_customer_id: str | None = Field(default=None, examples=["CUST_03476998"])
    statuses: Annotated[
        dict[str, Literal["OPEN", "CLOSED"]], From("statuses_json", convert=json_object)
    ] = Field(
        description="Card program name to OPEN or CLOSED", examples=[{"acme_rewards": "OPEN"}]
    )
    metadata: Annotated[dict[str, Any], From("metadata_json", convert=json_object)] = Field(
        description="Set of key-value pairs the partner keeps on the customer",
        examples=[{"loyalty_id": "L-123"}],
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    updated_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])


class CustomerList(_ResponseBody):
    """One page of customers, oldest first."""

    data: Annotated[list[Customer], From("items")]
    has_more: bool = Field(description="Whether a page follows (`starting_after` the last id)")
    total: int = Field(description="How many customers match, on every page")


class PaymentMethodCard(_ResponseBody):
    """A card, without its number or CVV (never shown)."""

    last4: str | None = Field(default=None, examples=["4242"])
    network: str | None = Field(default=None, examples=["VISA"])
    card_type: Literal["VIRTUAL", "PHYSICAL", "UNIFIED"] | None = Field(
        default=None, examples=["VIRTUAL"]
    )
    card_design_id: str | None = Field(default=None, examples=["DEFAULT"])


class PaymentMethodLoan(_ResponseBody):
    amount: int | None = Field(default=None, description="Minor units", examples=[120000])
    currency: str | None = Field(default=None, examples=["USD"])
    remaining_balance: int | None = Field(default=None, description="Minor units", examples=[80000])
    term_months: int | None = Field(default=None, examples=[12])
    apr: str | None = Field(default=None, examples=["9.99"])
    loan_status: str | None = Field(default=None, examples=["ACTIVE"])


class PaymentMethod(_ResponseBody):
    """A customer's card or loan."""

    id: str = Field(examples=["5B1D2F3E-8A7C-4E6D-9F0A-1B2C3D4E5F60"])
    type: Literal["CARD", "LOAN", "BANK_ACCOUNT"]
    customer_id: str = Field(examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"])
    status: Literal["ACTIVE", "INACTIVE", "CANCELED"]
    metadata: Annotated[dict[str, Any], From("metadata_json", convert=json_object)]
    # Allowlists: whatever else a stored card or loan holds is never shown.
    card: Annotated[PaymentMethodCard | None, From("card_json", convert=json_object_or_none)] = None
    loan: Annotated[PaymentMethodLoan | None, From("loan_json", convert=json_object_or_none)] = None
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    updated_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])


class CustomerPaymentMethodList(_ResponseBody):
    """One page of a customer's payment methods, oldest first."""

    data: Annotated[list[PaymentMethod], From("items")]
    has_more: bool
    total: int


class CustomerSessionSummary(_ResponseBody):
    """A customer session's lifecycle, without its client_secret."""

    id: str = Field(examples=["2EE24580-B97B-4949-A65C-929CCB9B9B8D"])
    state: Annotated[
        Literal["active", "consumed", "expired", "revoked"],
        From(compute=lambda record, now: customer_session_state(record, now=now)),
    ] = Field(
        description=(
            "`revoked` (expired early by the partner) over `consumed` (the client_secret was "
            "exchanged) over `expired` (past `expires_at`) over `active`"
        )
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    expires_at: Timestamp = Field(examples=["2025-02-13T19:38:07.000Z"])
    consumed_at: OptionalTimestamp = Field(default=None, examples=["2025-02-13T19:09:07.000Z"])
    revoked_at: OptionalTimestamp = Field(default=None, examples=["2025-02-13T19:10:07.000Z"])
    source: str | None = Field(default=None, examples=["web_signup"])
    metadata: Annotated[dict[str, Any] | None, From("metadata_json", raw_json=True)] = Field(
        default=None, examples=[{"store_number": "123"}]
    )


class CustomerSessionList(_ResponseBody):
    """One page of a customer's sessions, oldest first."""

    data: Annotated[list[CustomerSessionSummary], From("items")]
    has_more: bool
    total: int


class CreatedApiKey(_ResponseBody):
    """A new API key. `api_key` is shown this once: only a keyed hash of it is stored."""

    id: str = Field(examples=["7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F"])
    api_key: str = Field(
        description="The key itself: `isk_test_` (sandbox) or `isk_live_` (production) + 43 chars",
        examples=["isk_test_..."],
    )
    partner_id: str = Field(examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"])
    created_at: str = Field(examples=["2025-02-13T19:08:07.000Z"])
    display_prefix: str = Field(
        description="Enough of the key to recognise it in a list", examples=["isk_test_2vQa"]
    )


class DeletedApiKey(_ResponseBody):
    """A deleted (revoked) API key: it stops working everywhere within one second."""

    id: str = Field(examples=["7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F"])
    deleted: Literal[True] = True
    display_prefix: str = Field(examples=["isk_test_2vQa"])
    revoked_at: str = Field(examples=["2025-02-13T19:08:07.000Z"])


# -- the generated serializers (``serializers.py``), each checked against its record -------------

CUSTOMER_SESSION = serializer(CustomerSession, record=IssuedCustomerSession)
CUSTOMER_SESSION_SUMMARY = serializer(CustomerSessionSummary, record=records.CustomerSession)
CUSTOMER_SESSION_LIST = serializer(CustomerSessionList, record=records.Page)
CUSTOMER = serializer(Customer, record=records.Customer)
CUSTOMER_LIST = serializer(CustomerList, record=records.Page)
PAYMENT_METHOD = serializer(PaymentMethod, record=records.PaymentMethod)
PAYMENT_METHOD_LIST = serializer(CustomerPaymentMethodList, record=records.Page)
