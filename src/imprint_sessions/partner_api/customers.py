"""``/v2/customers``: list and search the caller's customers, retrieve one, update one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from imprint_sessions.deps import Svc
from imprint_sessions.domain import customers
from imprint_sessions.domain.customers import page_request
from imprint_sessions.json_body import JsonBody, into_record
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import IDEMPOTENT_RESPONSES, Idempotency
from imprint_sessions.partner_api.params import DEFAULT_LIMIT, CustomerIdPath, Limit, StartingAfter
from imprint_sessions.partner_api.rendering import (
    json_response,
)
from imprint_sessions.storage.records import CustomerUpdate
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.validation import Identifier
from imprint_sessions.wire.partner import (
    CUSTOMER,
    CUSTOMER_LIST,
    ConflictError,
    Customer,
    CustomerList,
    SearchCustomersRequest,
    UpdateCustomerRequest,
)

router = APIRouter(tags=["Customers"])
_SEARCH = JsonBody(SearchCustomersRequest)
_UPDATE = JsonBody(UpdateCustomerRequest)
_UPDATE_FIELDS = into_record(UpdateCustomerRequest, CustomerUpdate)

_YOUR_CUSTOMERS = "your customers"


@router.get(
    "/v2/customers",
    operation_id="listCustomers",
    summary="List customers",
    response_model=CustomerList,
    responses=error_responses(400, 401, 429, 503),
)
async def list_customers(
    services: Svc,
    principal: PartnerAuth,
    partner_customer_id: Annotated[
        Identifier | None, Query(description="Only the customer with this id in your system")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: StartingAfter = None,
) -> Response:
    """Lists your customers, oldest first: `{data, has_more, total}`."""
    page = await customers.search_customers(
        services.database.repositories,
        box=services.box,
        principal=principal,
        page=page_request(limit, starting_after, of_what=_YOUR_CUSTOMERS),
        partner_customer_id=partner_customer_id,
    )
    return json_response(CUSTOMER_LIST(page))


@router.post(
    "/v2/customers",
    operation_id="searchCustomers",
    summary="Search customers",
    response_model=CustomerList,
    responses=error_responses(400, 401, 413, 429, 503),
    openapi_extra=_SEARCH.openapi,
)
async def search_customers(request: Request, services: Svc, principal: PartnerAuth) -> Response:
    """Searches your customers by `partner_customer_id`, `date_of_birth` and `ssn` (a search,
    not a create; it changes nothing, so it is always safe to retry)."""
    body = await _SEARCH.read(request)
    page = await customers.search_customers(
        services.database.repositories,
        box=services.box,
        principal=principal,
        page=page_request(body.limit, body.starting_after, of_what=_YOUR_CUSTOMERS),
        partner_customer_id=body.partner_customer_id,
        date_of_birth=body.date_of_birth.iso() if body.date_of_birth else None,
        ssn=body.ssn,
    )
    return json_response(CUSTOMER_LIST(page))


@router.get(
    "/v2/customers/{customer_id}",
    operation_id="getCustomer",
    summary="Retrieve a customer",
    response_model=Customer,
    responses=error_responses(400, 401, 404, 429, 503),
)
async def get_customer(
    customer_id: CustomerIdPath, services: Svc, principal: PartnerAuth
) -> Response:
    """Returns one of your customers."""
    customer = await customers.get_customer(
        services.database.repositories, principal=principal, customer_id=customer_id
    )
    return json_response(CUSTOMER(customer))


_UPDATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(400, 401, 404, 413, 429, 503),
    **IDEMPOTENT_RESPONSES,
    409: {
        "description": "`CUSTOMER_CONFLICT_ERROR`: another of your customers has this "
        "`partner_customer_id`; or `IDEMPOTENCY_KEY_IN_USE`: a request with the same "
        "Idempotency-Key is still being processed",
        "model": ConflictError,
    },
}


@router.post(
    "/v2/customers/{customer_id}",
    operation_id="updateCustomer",
    summary="Update a customer",
    response_model=Customer,
    responses=_UPDATE_RESPONSES,
    openapi_extra=_UPDATE.openapi,
)
async def update_customer(
    customer_id: CustomerIdPath,
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    idempotency: Idempotency,
) -> Response:
    """Updates one of your customers: the fields sent change, `metadata` is merged."""

    async def update(repos: Repositories) -> Response:
        body = await _UPDATE.read(request)
        customer = await customers.update_customer(
            repos,
            box=services.box,
            clock=services.clock,
            principal=principal,
            customer_id=customer_id,
            update=_UPDATE_FIELDS(body),
        )
        return json_response(CUSTOMER(customer))

    return await idempotency.run(update)
