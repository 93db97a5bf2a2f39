"""Partner API wire schemas: the seed's request, response and error bodies, field for field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from imprint_sessions.validation import (
    AddressLine,
    CountryCode,
    CurrencyCode,
    EmailAddress,
    Identifier,
    LanguageCode,
    LoyaltyTier,
    Metadata,
    NonNegativeInteger,
    PersonName,
    PhoneNumber,
    PostalCode,
    Rfc3339Timestamp,
    Source,
    requires_field,
)

__all__ = [
    "Address",
    "ConflictError",
    "CreateCustomerSessionRequest",
    "CustomerAccountHistory",
    "CustomerSession",
    "InvalidRequestError",
    "NotFoundError",
]


def _without_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Publish optional fields as the seed does: absent when unknown, never ``null``.

    An optional field is ``X | None`` in Python so that an explicit JSON ``null`` is accepted as
    "absent"; pydantic renders that as ``anyOf: [X, {type: null}]`` with ``default: null``, which
    the seed does not say. The null branch and the null default are dropped from the schema.
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


class _RequestBody(BaseModel):
    # Unknown fields are ignored, not refused: the seed leaves additionalProperties open, and a
    # partner sending a field from a newer API version must not start failing.
    model_config = ConfigDict(extra="ignore", json_schema_extra=_without_null)


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


class CustomerAccountHistory(_RequestBody):
    """A Customer's account history with the partner"""

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


class CreateCustomerSessionRequest(_RequestBody):
    """The body of POST /v2/customer_sessions; every field is optional."""

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
    expires_at: str = Field(
        description="the RFC-3339 timestamp when the `client_secret` will expire.",
        examples=["2025-02-13T19:08:07.000Z"],
    )
    metadata: dict[str, Any] | None = Field(
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


class InvalidRequestError(_ResponseBody):
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


class NotFoundError(_ResponseBody):
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


class ConflictError(_ResponseBody):
    """The body of a 409."""

    type: str = Field(description="The kind of conflict", examples=["CONFLICT_ERROR"])
    message: str = Field(
        description="A human-readable explanation",
        examples=["The request conflicts with the current state of the resource"],
    )
