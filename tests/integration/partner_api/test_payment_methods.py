"""GET /v2/customers/{id}/payment_methods and GET /v2/payment_methods/{id}: read-only, isolated."""

from __future__ import annotations

from imprint_sessions.clock import ManualClock
from partner_api.conftest import Caller, random_id, walk

LOAN = {
    "amount": 120_000,
    "currency": "USD",
    "remaining_balance": 80_000,
    "term_months": 12,
    "apr": "9.99",
    "loan_status": "ACTIVE",
}


def not_found(payment_method_id: str) -> dict[str, str]:
    return {
        "type": "PAYMENT_METHOD_NOT_FOUND_ERROR",
        "message": f"Payment method not found for provided ID: {payment_method_id}",
        "param": "payment_method_id",
    }


async def test_card_shows_only_its_documented_fields(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    card = {
        "last4": "4242",
        "network": "VISA",
        "card_type": "VIRTUAL",
        "card_design_id": "acme",
        # Whatever else a stored card might hold is never shown.
        "number": "4242424242424242",
        "cvv": "123",
    }
    payment_method_id = await caller.new_payment_method(customer_id, card=card, metadata={"k": "v"})
    response = await caller.get(f"/v2/payment_methods/{payment_method_id}")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("created_at") == body.pop("updated_at")
    assert body == {
        "id": payment_method_id,
        "type": "CARD",
        "customer_id": customer_id,
        "status": "ACTIVE",
        "metadata": {"k": "v"},
        "card": {
            "last4": "4242",
            "network": "VISA",
            "card_type": "VIRTUAL",
            "card_design_id": "acme",
        },
    }
    assert "4242424242424242" not in response.text
    assert "cvv" not in response.text


async def test_loan_shows_its_terms(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    payment_method_id = await caller.new_payment_method(customer_id, type_="LOAN", loan=LOAN)
    body = (await caller.get(f"/v2/payment_methods/{payment_method_id}")).json()
    assert body["type"] == "LOAN"
    assert body["loan"] == LOAN
    assert "card" not in body
    assert body["metadata"] == {}


async def test_12_payment_methods_walked_5_at_a_time_come_in_order(
    caller: Caller, clock: ManualClock
) -> None:
    customer_id = await caller.new_customer()
    other_customer = await caller.new_customer()
    await caller.new_payment_method(other_customer)
    made = []
    for i in range(12):
        made.append(await caller.new_payment_method(customer_id))
        if i % 2:
            clock.advance(ms=1)
    pages = await walk(caller, f"/v2/customers/{customer_id}/payment_methods", limit=5)
    assert [len(p["data"]) for p in pages] == [5, 5, 2]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert {p["total"] for p in pages} == {12}
    listed = [pm for page in pages for pm in page["data"]]
    assert sorted(pm["id"] for pm in listed) == sorted(made)
    keys = [(pm["created_at"], pm["id"]) for pm in listed]
    assert keys == sorted(keys)
    assert {pm["customer_id"] for pm in listed} == {customer_id}


async def test_customer_without_payment_methods_lists_none(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    response = await caller.get(f"/v2/customers/{customer_id}/payment_methods")
    assert response.json() == {"data": [], "has_more": False, "total": 0}


async def test_another_partners_payment_method_is_the_same_404_as_a_missing_one(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_payment_method(await intruder.new_customer())
    missing = random_id()
    stolen = await caller.get(f"/v2/payment_methods/{theirs}")
    absent = await caller.get(f"/v2/payment_methods/{missing}")
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == not_found(theirs)
    assert absent.json() == not_found(missing)
    malformed = await caller.get("/v2/payment_methods/nope")
    assert malformed.json() == not_found("nope")


async def test_another_partners_customers_payment_methods_are_not_found(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_customer()
    await intruder.new_payment_method(theirs)
    missing = random_id()
    stolen = await caller.get(f"/v2/customers/{theirs}/payment_methods")
    absent = await caller.get(f"/v2/customers/{missing}/payment_methods")
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == {
        "type": "CUSTOMER_NOT_FOUND_ERROR",
        "message": f"Customer not found for provided ID: {theirs}",
        "param": "customer_id",
    }
    assert absent.json()["type"] == "CUSTOMER_NOT_FOUND_ERROR"


async def test_starting_after_another_customers_payment_method_is_400(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    await caller.new_payment_method(customer_id)
    elsewhere = await caller.new_payment_method(await caller.new_customer())
    response = await caller.get(
        f"/v2/customers/{customer_id}/payment_methods", params={"starting_after": elsewhere}
    )
    assert response.status_code == 400
    assert response.json()["details"] == [
        "starting_after: must be the id of one of this customer's payment methods"
    ]


async def test_payment_method_list_limit_is_bounded(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    response = await caller.get(
        f"/v2/customers/{customer_id}/payment_methods", params={"limit": "101"}
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["limit: must be less than or equal to 100"]


async def test_payment_method_id_over_255_characters_is_400(caller: Caller) -> None:
    response = await caller.get(f"/v2/payment_methods/{'x' * 256}")
    assert response.status_code == 400
    assert response.json()["details"] == ["payment_method_id: must be at most 255 characters"]
