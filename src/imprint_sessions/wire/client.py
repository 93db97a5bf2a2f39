"""Client API wire schemas: requests (validated with the partner API's field rules) and responses.

Responses always carry every documented key: ``null`` when a value is unknown or does not apply
(a card's offer has no ``amount``), so the hosted page never has to test for a missing key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from imprint_sessions.clock import Clock, rfc3339_ms
from imprint_sessions.domain.applications import REQUIRED_ADDRESS_FIELDS, offer_of
from imprint_sessions.domain.decisions import utc_today
from imprint_sessions.domain.profiles import loads, prefill, profile_value
from imprint_sessions.storage.records import Application, ClientContext, Customer, PaymentMethod
from imprint_sessions.validation import (
    INTEGER_MAX,
    EmailAddress,
    JsonInteger,
    LanguageCode,
    NonNegativeInteger,
    PersonName,
    PhoneNumber,
)
from imprint_sessions.wire.partner import Address

_JSON = "application/json"
M = TypeVar("M", bound=BaseModel)
TODAY = "today"  # validation context key: the service clock's date, for dates of birth
MAX_TERM_MONTHS = 120
EARLIEST_BIRTH_YEAR = 1900


def dates_as_of(clock: Clock) -> dict[str, Any]:
    """The validation context of a body with dates: the service clock's today checks them."""
    return {TODAY: utc_today(clock)}


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- requests ------------------------------------------------------------------------------------
class ExchangeRequest(_Request):
    client_secret: Annotated[str, Field(strict=True, max_length=200)] = Field(
        description="The one-time client_secret of a customer session (from the partner)"
    )


class ProfileDateOfBirth(_Request):
    """A calendar date; it must exist and lie in the past."""

    year: Annotated[int, JsonInteger] = Field(
        strict=True, ge=EARLIEST_BIRTH_YEAR, le=9999, examples=[1990]
    )
    month: Annotated[int, JsonInteger] = Field(strict=True, ge=1, le=12, examples=[7])
    day: Annotated[int, JsonInteger] = Field(strict=True, ge=1, le=31, examples=[14])

    def as_date(self) -> date:
        return date(self.year, self.month, self.day)

    @model_validator(mode="after")
    def _real_and_past(self, info: ValidationInfo) -> ProfileDateOfBirth:
        try:
            born = self.as_date()
        except ValueError:
            raise PydanticCustomError("date_of_birth", "must be a real date") from None
        today = (info.context or {}).get(TODAY)
        if today is not None and born >= today:
            raise PydanticCustomError("date_of_birth", "must be in the past")
        return self


class ProfileUpdate(_Request):
    """A partial update: a field left out stays as it is; ``null`` clears it; ``address`` is
    replaced as a whole."""

    email: EmailAddress | None = None
    phone: PhoneNumber | None = Field(
        default=None, description="Changing the phone clears its verification"
    )
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    preferred_language: LanguageCode | None = None
    date_of_birth: ProfileDateOfBirth | None = None
    address: Address | None = None

    def changes(self) -> dict[str, Any]:
        """The fields sent (``None`` where sent as ``null``), in domain form."""
        changed: dict[str, Any] = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if isinstance(value, ProfileDateOfBirth):
                value = value.as_date()
            elif isinstance(value, Address):
                value = value.model_dump(exclude_none=True)
            changed[name] = value
        return changed


class ConfirmPhoneVerification(_Request):
    code: Annotated[str, Field(strict=True, pattern=r"^[0-9]{6}$")] = Field(
        description="The six-digit code sent to the phone (sandbox: 888888)"
    )


Ssn4 = Annotated[str, Field(strict=True, pattern=r"^[0-9]{4}$", examples=["1234"])]
HousingType = Literal["RENT", "OWN", "OTHER"]
IncomeType = Literal[
    "EMPLOYED",
    "SELF-EMPLOYED",
    "BUSINESS OWNER",
    "RETIREMENT",
    "UNEMPLOYMENT",
    "GOVTASSISTANCE",
    "OTHER",
]
PositiveAmount = Annotated[int, Field(strict=True, ge=1, le=INTEGER_MAX), JsonInteger]
TermMonths = Annotated[int, Field(strict=True, ge=1, le=MAX_TERM_MONTHS), JsonInteger]


# A loan names its amount and term (``_required_for_a_loan``), as a schema can say it.
_LOAN_NEEDS_AMOUNT_AND_TERM: JsonDict = {
    "if": {"properties": {"type": {"const": "LOAN"}}, "required": ["type"]},
    "then": {
        "required": ["amount", "term_months"],
        "properties": {"amount": {"type": "integer"}, "term_months": {"type": "integer"}},
    },
}


def _application_schema(schema: JsonDict) -> None:
    """A loan's amount and term; and an address sent is used whole, so it must be complete
    (``domain.applications``: each of its required fields present and not empty)."""
    schema.update(_LOAN_NEEDS_AMOUNT_AND_TERM)
    properties = schema["properties"]
    assert isinstance(properties, dict)
    address = properties["address"]
    assert isinstance(address, dict)
    assert isinstance(address["anyOf"], list)
    reference = address["anyOf"][0]
    assert isinstance(reference, dict)
    complete: JsonDict = {
        "$ref": reference["$ref"],
        "required": list(REQUIRED_ADDRESS_FIELDS),
        "properties": {name: {"minLength": 1} for name in REQUIRED_ADDRESS_FIELDS},
    }
    properties["address"] = {"anyOf": [complete, {"type": "null"}], "default": None}


class CreateApplication(_Request):
    """An application for a card or a loan. Contact fields left out come from the profile, then
    from the session's customer history."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_application_schema)

    type: Literal["CARD", "LOAN"]
    ssn4: Ssn4 = Field(description="Last four digits of the applicant's SSN")
    housing_type: HousingType
    housing_cost: NonNegativeInteger = Field(description="Monthly housing cost, minor units")
    housing_currency: Annotated[str, Field(strict=True, pattern=r"^[A-Z]{3}$")] | None = None
    income_type: IncomeType
    income_amount: NonNegativeInteger = Field(description="Yearly income, minor units")
    income_currency: Annotated[str, Field(strict=True, pattern=r"^[A-Z]{3}$")] | None = None
    amount: PositiveAmount | None = Field(
        default=None, validate_default=True, description="LOAN: the amount asked, minor units"
    )
    term_months: TermMonths | None = Field(
        default=None, validate_default=True, description="LOAN: the term asked, in months"
    )
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    email: EmailAddress | None = None
    phone: PhoneNumber | None = Field(default=None, description="Must be the verified phone")
    date_of_birth: ProfileDateOfBirth | None = None
    address: Address | None = None

    @field_validator("amount", "term_months")
    @classmethod
    def _required_for_a_loan(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("type") == "LOAN":
            raise PydanticCustomError("loan_field", "is required for a LOAN")
        return value


# -- responses -----------------------------------------------------------------------------------
class ExchangeResponse(BaseModel):
    access_token: str = Field(
        description="The client credential: send it as `Authorization: Bearer <access_token>`. "
        "Not to be logged or stored beyond the page's lifetime."
    )
    expires_at: str = Field(description="RFC-3339 time the credential stops working")
    customer_session_id: str


class AddressOut(BaseModel):
    street_line1: str | None
    street_line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class DateOfBirthOut(BaseModel):
    year: int
    month: int
    day: int


class Prefill(BaseModel):
    """Values from the session's customer history for fields the profile lacks (only those)."""

    model_config = ConfigDict(json_schema_extra={"additionalProperties": False})

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address: AddressOut | None = None

    @pydantic.model_serializer(mode="wrap")
    def _only_known(self, handler: pydantic.SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class Profile(BaseModel):
    id: str
    email: str | None
    phone: str | None
    phone_verified: bool
    first_name: str | None
    last_name: str | None
    preferred_language: str | None
    date_of_birth: DateOfBirthOut | None
    address: AddressOut | None
    partner_customer_id: str | None
    prefill: Prefill


class OfferOut(BaseModel):
    credit_limit: int | None = Field(description="CARD: the credit limit, minor units")
    amount: int | None = Field(description="LOAN: the amount lent, minor units")
    currency: str
    apr: str = Field(description="Annual percentage rate, two decimals", examples=["24.99"])
    term_months: int | None = Field(description="LOAN: the term in months")


class ApplicationOut(BaseModel):
    id: str
    type: Literal["CARD", "LOAN"]
    status: Literal["PENDING_REVIEW", "APPROVED", "REJECTED", "OFFER_ACCEPTED"]
    offer: OfferOut | None
    payment_method_id: str | None
    created_at: str
    updated_at: str


class ClientSession(BaseModel):
    """The hosted page's starting context."""

    customer_session_id: str
    customer_id: str
    partner_customer_id: str | None
    merchant_key: str | None
    partner_name: str
    expires_at: str = Field(description="When the client credential stops working")
    transaction_amount: int | None
    transaction_currency: str | None
    preferred_language: str | None
    application: ApplicationOut | None = Field(description="The customer's latest application")


class PhoneVerificationStarted(BaseModel):
    expires_at: str = Field(description="When the code expires")


class PhoneVerified(BaseModel):
    phone_verified: Literal[True]


class CardOut(BaseModel):
    last4: str
    network: str
    card_type: str
    card_design_id: str | None


class LoanOut(BaseModel):
    amount: int
    currency: str
    remaining_balance: int
    term_months: int
    apr: str
    loan_status: str


class PaymentMethodOut(BaseModel):
    id: str
    type: Literal["CARD", "LOAN", "BANK_ACCOUNT"]
    customer_id: str
    status: Literal["ACTIVE", "INACTIVE", "CANCELED"]
    card: CardOut | None = Field(description="CARD: masked; never a full number or CVV")
    loan: LoanOut | None
    metadata: dict[str, Any] | None
    created_at: str
    updated_at: str


class PaymentMethodList(BaseModel):
    data: list[PaymentMethodOut]


class AcceptedOffer(BaseModel):
    application: ApplicationOut
    payment_method: PaymentMethodOut


# -- records to responses ------------------------------------------------------------------------
def address_out(value: Any) -> AddressOut | None:
    if not isinstance(value, dict):
        return None
    return AddressOut(**{name: value.get(name) for name in AddressOut.model_fields})


def application_out(application: Application) -> ApplicationOut:
    offer = offer_of(application)
    return ApplicationOut(
        id=application.id,
        type=application.type,
        status=application.status,
        offer=OfferOut(**offer.as_dict()) if offer else None,
        payment_method_id=application.payment_method_id,
        created_at=rfc3339_ms(application.created_at),
        updated_at=rfc3339_ms(application.updated_at),
    )


def payment_method_out(payment_method: PaymentMethod) -> PaymentMethodOut:
    card = loads(payment_method.card_json)
    loan = loads(payment_method.loan_json)
    return PaymentMethodOut(
        id=payment_method.id,
        type=payment_method.type,
        customer_id=payment_method.customer_id,
        status=payment_method.status,
        card=CardOut(**card) if card else None,
        loan=LoanOut(**loan) if loan else None,
        metadata=loads(payment_method.metadata_json),
        created_at=rfc3339_ms(payment_method.created_at),
        updated_at=rfc3339_ms(payment_method.updated_at),
    )


def profile_out(customer: Customer, context: ClientContext) -> Profile:
    born = profile_value(customer, "date_of_birth")
    known = prefill(replace(context, customer=customer))
    if "address" in known:
        known["address"] = address_out(known["address"])
    return Profile(
        id=customer.id,
        email=customer.email,
        phone=customer.phone,
        phone_verified=customer.phone_verified_at is not None,
        first_name=customer.first_name,
        last_name=customer.last_name,
        preferred_language=customer.preferred_language,
        date_of_birth=DateOfBirthOut(year=born.year, month=born.month, day=born.day)
        if born
        else None,
        address=address_out(profile_value(customer, "address")),
        partner_customer_id=customer.partner_customer_id,
        prefill=Prefill(**known),
    )
