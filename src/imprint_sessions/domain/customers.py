"""Customers as their partner sees them: retrieve, search (by partner id, SSN and date of birth)
and update. Every function is scoped to the caller's partner: another partner's customer is
indistinguishable from one that does not exist."""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

import pydantic

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, normalize_ssn
from imprint_sessions.errors import (
    CustomerConflict,
    CustomerNotFound,
    InvalidRequest,
    ServiceUnavailable,
)
from imprint_sessions.storage.records import (
    Customer,
    CustomerChanges,
    CustomerQuery,
    CustomerUpdate,
    Page,
    PageRequest,
    Principal,
    UpdateOutcome,
)
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.validation import Metadata, error_details

METADATA_DELETE: Final = ""
"""A metadata value that deletes its key in an update (Stripe's convention)."""
# Compare-and-set attempts of a metadata merge racing other updates of the same customer: each
# round one of the racers wins, so this many concurrent merges of one customer all succeed.
_UPDATE_ATTEMPTS: Final = 10
_METADATA: Final = pydantic.TypeAdapter(Metadata)


def canonical_id(value: str) -> str | None:
    """An id in its stored spelling (an uppercase UUID), or None when it cannot be one."""
    try:
        return str(uuid.UUID(value)).upper()
    except ValueError:
        return None


def page_request(limit: int, starting_after: str | None, *, of_what: str) -> PageRequest:
    """A page request; a ``starting_after`` that cannot be an id is refused as ``of_what``'s."""
    if starting_after is None:
        return PageRequest(limit=limit)
    cursor = canonical_id(starting_after)
    if cursor is None:
        raise unknown_cursor(of_what)
    return PageRequest(limit=limit, starting_after=cursor)


def unknown_cursor(of_what: str) -> InvalidRequest:
    return InvalidRequest(f"starting_after: must be the id of one of {of_what}")


async def get_customer(repos: Repositories, *, principal: Principal, customer_id: str) -> Customer:
    """The caller's own customer; anything else is ``CUSTOMER_NOT_FOUND_ERROR``."""
    canonical = canonical_id(customer_id)
    found = await repos.get_partner_customer(principal.partner_id, canonical) if canonical else None
    if found is None:
        raise CustomerNotFound(customer_id)
    return found


async def search_customers(
    repos: Repositories,
    *,
    box: SecretBox,
    principal: Principal,
    page: PageRequest,
    partner_customer_id: str | None = None,
    date_of_birth: str | None = None,
    ssn: str | None = None,
) -> Page[Customer]:
    """The caller's customers matching every filter given, oldest first.

    ``ssn`` is matched through its keyed hash under every configured master key, so customers
    whose SSN was stored before a key rotation are still found.
    """
    query = CustomerQuery(
        partner_customer_id=partner_customer_id,
        date_of_birth=date_of_birth,
        ssn_hashes=tuple(box.ssn_lookup_hashes(principal.partner_id, ssn)) if ssn else None,
    )
    found = await repos.list_partner_customers(principal.partner_id, query, page)
    if found is None:
        raise unknown_cursor("your customers")
    return found


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``current`` with ``patch`` applied: keys set, ``METADATA_DELETE`` values deleting theirs.

    The result must still be valid metadata (key count and size limits): ``InvalidRequest``.
    """
    merged = {**current, **patch}
    for key, value in patch.items():
        if value == METADATA_DELETE:
            del merged[key]
    try:
        _METADATA.validate_python(merged)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise InvalidRequest(
            *error_details({**error, "loc": ("metadata", *error["loc"])} for error in errors)
        ) from None
    return merged


# Fields of an update with a rule here; every other field is a column's new value, as sent.
_RULED = frozenset({"address", "date_of_birth", "ssn", "metadata"})


def _changes(
    update: CustomerUpdate, current: Customer, *, box: SecretBox, partner_id: str
) -> CustomerChanges:
    ruled: dict[str, Any] = {}
    if update.ssn is not None:
        ruled["ssn4"] = normalize_ssn(update.ssn)[-4:]
        ruled["ssn_hash"] = box.ssn_hash(partner_id, update.ssn)
    if update.metadata is not None:
        current_metadata = json.loads(current.metadata_json) if current.metadata_json else {}
        ruled["metadata_json"] = _dumps(merge_metadata(current_metadata, update.metadata))
    if update.address is not None:
        ruled["address_json"] = _dumps(update.address)
    if update.date_of_birth is not None:
        born = update.date_of_birth
        ruled["date_of_birth"] = f"{born['year']:04d}-{born['month']:02d}-{born['day']:02d}"
    as_sent = {
        name: getattr(update, name)
        for name in CustomerUpdate.__dataclass_fields__
        if name not in _RULED
    }
    return CustomerChanges(**as_sent, **ruled)


async def update_customer(
    repos: Repositories,
    *,
    box: SecretBox,
    clock: Clock,
    principal: Principal,
    customer_id: str,
    update: CustomerUpdate,
) -> Customer:
    """Change the fields sent, in one statement; the customer as it now is.

    Only ``ssn4`` and a keyed hash of ``ssn`` are kept. ``metadata`` is merged into what the
    customer has, with a compare-and-set so concurrent merges cannot lose each other's keys.
    A ``partner_customer_id`` another of the partner's customers has is a 409. An update with
    nothing in it changes nothing (``updated_at`` included).
    """
    for _ in range(_UPDATE_ATTEMPTS):
        current = await get_customer(repos, principal=principal, customer_id=customer_id)
        changes = _changes(update, current, box=box, partner_id=principal.partner_id)
        if changes == CustomerChanges():
            return current
        result = await repos.update_partner_customer(
            principal.partner_id,
            current.id,
            changes,
            now=clock.now_ms(),
            metadata_before=current.metadata_json,
        )
        if isinstance(result, Customer):
            return result
        if result is UpdateOutcome.PARTNER_CUSTOMER_ID_TAKEN:
            raise CustomerConflict(
                "partner_customer_id: another of your customers already has "
                f"{update.partner_customer_id!r}"
            )
        # NOT_UPDATED: the metadata changed since it was read; merge into the new one.
    raise ServiceUnavailable("customer: changed by concurrent requests, try again")
