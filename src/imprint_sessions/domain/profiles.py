"""The customer's own profile: reading it (with what the session's history could pre-fill) and
editing it. A changed phone number loses its verification."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from imprint_sessions.clock import Clock
from imprint_sessions.domain.client_sessions import ClientPrincipal
from imprint_sessions.storage.records import ClientContext, Customer
from imprint_sessions.storage.repositories import Repositories

# Profile fields that the partner's customer_history can pre-fill when the profile lacks them.
PREFILL_FIELDS = ("email", "phone", "first_name", "last_name", "preferred_language", "address")


def loads(value: str | None) -> Any:
    return json.loads(value) if value else None


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def customer_history(context: ClientContext) -> dict[str, Any]:
    history = loads(context.customer_history_json)
    return history if isinstance(history, dict) else {}


def profile_value(customer: Customer, field: str) -> Any:
    """A profile field as the API shows it (``address`` parsed, ``date_of_birth`` a date)."""
    if field == "address":
        return loads(customer.address_json)
    if field == "date_of_birth":
        return date.fromisoformat(customer.date_of_birth) if customer.date_of_birth else None
    return getattr(customer, field)


def prefill(context: ClientContext) -> dict[str, Any]:
    """What the session's ``customer_history`` knows that the profile does not."""
    history = customer_history(context)
    return {
        field: history[field]
        for field in PREFILL_FIELDS
        if history.get(field) and profile_value(context.customer, field) is None
    }


async def update_profile(
    repos: Repositories, *, principal: ClientPrincipal, clock: Clock, changes: dict[str, Any]
) -> Customer:
    """Apply a partial update: each key given is set, ``None`` clears it; others stay.

    ``address`` is replaced as a whole; ``date_of_birth`` is a ``date``.
    """
    columns: dict[str, str | None] = {}
    for field, value in changes.items():
        if value is None:
            columns[field] = None
        elif field == "address":
            columns[field] = dumps(value)
        elif field == "date_of_birth":
            columns[field] = value.isoformat()
        else:
            columns[field] = value
    if not columns:
        return principal.customer
    updated = await repos.update_customer_profile(
        principal.customer_id, columns, now=clock.now_ms()
    )
    assert updated is not None  # the customer of a live session exists
    return updated
