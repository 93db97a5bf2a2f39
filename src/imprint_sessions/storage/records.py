"""Plain records passed between the domain and the repositories (no driver types leak out)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    merchant_keys: tuple[str, ...]
    created_at: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    partner_id: str
    display_prefix: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API key speaks for: resolved once per request by authentication."""

    api_key_id: str
    partner_id: str
    merchant_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """The profile of a customer a session creates (filled from ``customer_history``)."""

    id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address_json: str | None = None
    account_history_json: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomerSession:
    id: str
    partner_id: str
    customer_id: str | None
    partner_customer_id: str | None
    new_customer: NewCustomer
    merchant_key: str | None
    secret_key_id: str
    transaction_amount: int | None
    transaction_currency: str | None
    customer_history_json: str | None
    source: str | None
    metadata_json: str | None
    created_at: int
    expires_at: int


class CreateOutcome(enum.Enum):
    CREATED = "created"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CUSTOMER_MISMATCH = "customer_mismatch"


@dataclass(frozen=True, slots=True)
class CustomerSession:
    id: str
    partner_id: str
    customer_id: str
    secret_key_id: str
    source: str | None
    metadata_json: str | None
    created_at: int
    expires_at: int
    consumed_at: int | None
    revoked_at: int | None
