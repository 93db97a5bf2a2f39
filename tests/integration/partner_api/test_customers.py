"""GET and POST /v2/customers, GET /v2/customers/{id}: lists, searches, retrieval, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from partner_api.conftest import Caller, NewCaller, other_app, random_id, walk

DOB = {"year": 1990, "month": 7, "day": 14}
AT_LEAST = "must be greater than or equal to"
AT_MOST = "must be less than or equal to"
SSN = "123-45-6789"


def not_found(customer_id: str) -> dict[str, str]:
    return {
        "type": "CUSTOMER_NOT_FOUND_ERROR",
        "message": f"Customer not found for provided ID: {customer_id}",
        "param": "customer_id",
    }


async def test_customer_made_by_a_session_has_the_documented_shape(
    caller: Caller, clock: ManualClock
) -> None:
    customer_id = await caller.new_customer(
        "CUST_SHAPE",
        customer_history={
            "email": "ada@example.com",
            "first_name": "Ada",
            "address": {"city": "San Francisco", "country": "USA"},
        },
    )
    response = await caller.get(f"/v2/customers/{customer_id}")
    assert response.status_code == 200
    customer = response.json()
    assert customer.pop("created_at") == customer.pop("updated_at")
    assert customer == {
        "id": customer_id,
        "email": "ada@example.com",
        "first_name": "Ada",
        "address": {"city": "San Francisco", "country": "USA"},
        "partner_customer_id": "CUST_SHAPE",
        "statuses": {},
        "metadata": {},
    }


async def test_fully_updated_customer_returns_every_field(caller: Caller) -> None:
    customer_id = await caller.new_customer("CUST_FULL")
    body = {
        "email": "ada@example.com",
        "phone": "+14155552671",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "preferred_language": "en",
        "address": {"street_line1": "123 Main St", "postal_code": "94105", "country": "USA"},
        "date_of_birth": DOB,
        "ssn": SSN,
        "metadata": {"tier": "gold"},
    }
    updated = await caller.post(f"/v2/customers/{customer_id}", body)
    assert updated.status_code == 200, updated.text
    fetched = (await caller.get(f"/v2/customers/{customer_id}")).json()
    assert fetched == updated.json()
    assert list(fetched) == [
        "id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "preferred_language",
        "ssn4",
        "date_of_birth",
        "address",
        "partner_customer_id",
        "statuses",
        "metadata",
        "created_at",
        "updated_at",
    ]
    assert fetched["ssn4"] == "6789"
    assert fetched["date_of_birth"] == DOB
    assert "ssn" not in fetched
    assert "ssn_hash" not in fetched
    assert fetched["created_at"].endswith("Z")
    assert len(fetched["created_at"]) == 24


async def test_23_customers_walked_5_at_a_time_come_in_order_without_gaps(
    caller: Caller, clock: ManualClock
) -> None:
    made = []
    for i in range(23):
        made.append(await caller.new_customer(f"CUST_WALK_{i:02d}"))
        if i % 3 == 0:  # groups sharing a created_at: ties are ordered by id
            clock.advance(ms=1)
    pages = await walk(caller, "/v2/customers", limit=5)
    assert [len(page["data"]) for page in pages] == [5, 5, 5, 5, 3]
    assert [page["has_more"] for page in pages] == [True, True, True, True, False]
    assert {page["total"] for page in pages} == {23}
    listed = [customer for page in pages for customer in page["data"]]
    assert sorted(c["id"] for c in listed) == sorted(made)
    keys = [(c["created_at"], c["id"]) for c in listed]
    assert keys == sorted(keys)


async def test_list_without_limit_returns_10(caller: Caller) -> None:
    for _ in range(11):
        await caller.new_customer()
    page = (await caller.get("/v2/customers")).json()
    assert (len(page["data"]), page["has_more"], page["total"]) == (10, True, 11)


async def test_list_of_a_partner_without_customers_is_empty(caller: Caller) -> None:
    response = await caller.get("/v2/customers")
    assert response.json() == {"data": [], "has_more": False, "total": 0}


async def test_list_by_partner_customer_id_returns_only_that_customer(caller: Caller) -> None:
    wanted = await caller.new_customer("CUST_A")
    await caller.new_customer("CUST_B")
    page = (await caller.get("/v2/customers", params={"partner_customer_id": "CUST_A"})).json()
    assert [c["id"] for c in page["data"]] == [wanted]
    assert (page["has_more"], page["total"]) == (False, 1)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": "0"}, "limit: must be greater than or equal to 1"),
        ({"limit": "101"}, "limit: must be less than or equal to 100"),
        ({"limit": "ten"}, "limit: must be an integer"),
        ({"partner_customer_id": ""}, "partner_customer_id: must not be empty"),
        ({"partner_customer_id": "x" * 256}, "partner_customer_id: must be at most 255 characters"),
        ({"starting_after": "x" * 256}, "starting_after: must be at most 255 characters"),
        ({"starting_after": "nope"}, "starting_after: must be the id of one of your customers"),
    ],
)
async def test_invalid_list_parameter_is_400_naming_it(
    caller: Caller, params: dict[str, str], detail: str
) -> None:
    response = await caller.get("/v2/customers", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["details"] == [detail]
    assert (body["path"], body["error"], body["status"]) == ("/v2/customers", "Bad Request", 400)


async def test_limit_of_100_is_accepted(caller: Caller) -> None:
    response = await caller.get("/v2/customers", params={"limit": "100"})
    assert response.status_code == 200


async def test_starting_after_another_partners_customer_is_400(
    caller: Caller, intruder: Caller
) -> None:
    await caller.new_customer()
    theirs = await intruder.new_customer()
    for starting_after in (theirs, random_id()):
        response = await caller.get("/v2/customers", params={"starting_after": starting_after})
        assert response.status_code == 400
        assert response.json()["details"] == [
            "starting_after: must be the id of one of your customers"
        ]


async def test_another_partners_customer_is_the_same_404_as_a_missing_one(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_customer()
    missing = random_id()
    stolen = await caller.get(f"/v2/customers/{theirs}")
    absent = await caller.get(f"/v2/customers/{missing}")
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == not_found(theirs)
    assert absent.json() == not_found(missing)


async def test_malformed_customer_id_is_not_found(caller: Caller) -> None:
    response = await caller.get("/v2/customers/zzz")
    assert response.status_code == 404
    assert response.json() == not_found("zzz")


async def test_customer_id_over_255_characters_is_400(caller: Caller) -> None:
    response = await caller.get(f"/v2/customers/{'x' * 256}")
    assert response.status_code == 400
    assert response.json()["details"] == ["customer_id: must be at most 255 characters"]


async def test_lowercase_customer_id_finds_the_customer(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    response = await caller.get(f"/v2/customers/{customer_id.lower()}")
    assert response.json()["id"] == customer_id


async def test_another_partners_customers_never_appear_in_lists(
    caller: Caller, intruder: Caller
) -> None:
    await intruder.new_customer("CUST_SHARED")
    mine = await caller.new_customer("CUST_SHARED")  # the same partner id, another partner
    listed = (await caller.get("/v2/customers")).json()
    assert [c["id"] for c in listed["data"]] == [mine]
    searched = (await caller.post("/v2/customers", {"partner_customer_id": "CUST_SHARED"})).json()
    assert [c["id"] for c in searched["data"]] == [mine]


# -- POST /v2/customers: the search ---------------------------------------------------------------


async def set_identity(caller: Caller, customer_id: str, **body: Any) -> None:
    response = await caller.post(f"/v2/customers/{customer_id}", body)
    assert response.status_code == 200, response.text


async def test_search_by_ssn_and_date_of_birth_finds_only_that_customer(caller: Caller) -> None:
    ada = await caller.new_customer()
    twin = await caller.new_customer()  # same birthday, other SSN
    namesake = await caller.new_customer()  # same SSN, other birthday (a typo somewhere)
    await set_identity(caller, ada, ssn=SSN, date_of_birth=DOB)
    await set_identity(caller, twin, ssn="987-65-4321", date_of_birth=DOB)
    await set_identity(caller, namesake, ssn=SSN, date_of_birth={**DOB, "day": 15})
    response = await caller.post("/v2/customers", {"ssn": SSN, "date_of_birth": DOB})
    assert response.status_code == 200
    page = response.json()
    assert [c["id"] for c in page["data"]] == [ada]
    assert (page["has_more"], page["total"]) == (False, 1)


async def test_ssn_without_dashes_matches_one_stored_with_them(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    await set_identity(caller, customer_id, ssn=SSN, date_of_birth=DOB)
    page = (await caller.post("/v2/customers", {"ssn": "123456789", "date_of_birth": DOB})).json()
    assert [c["id"] for c in page["data"]] == [customer_id]


async def test_search_by_date_of_birth_alone_filters_by_it(caller: Caller) -> None:
    born = await caller.new_customer()
    await caller.new_customer()
    await set_identity(caller, born, date_of_birth=DOB)
    page = (await caller.post("/v2/customers", {"date_of_birth": DOB})).json()
    assert [c["id"] for c in page["data"]] == [born]


async def test_search_combines_partner_customer_id_with_date_of_birth(caller: Caller) -> None:
    customer_id = await caller.new_customer("CUST_BOTH")
    await set_identity(caller, customer_id, date_of_birth=DOB)
    match = {"partner_customer_id": "CUST_BOTH", "date_of_birth": DOB}
    miss = {"partner_customer_id": "CUST_BOTH", "date_of_birth": {**DOB, "year": 1991}}
    assert (await caller.post("/v2/customers", match)).json()["total"] == 1
    assert (await caller.post("/v2/customers", miss)).json()["total"] == 0


async def test_another_partners_ssn_is_not_found(caller: Caller, intruder: Caller) -> None:
    theirs = await intruder.new_customer()
    await set_identity(intruder, theirs, ssn=SSN, date_of_birth=DOB)
    page = (await caller.post("/v2/customers", {"ssn": SSN, "date_of_birth": DOB})).json()
    assert page == {"data": [], "has_more": False, "total": 0}


async def test_empty_search_body_walks_every_customer(caller: Caller) -> None:
    made = {await caller.new_customer() for _ in range(7)}
    seen: list[str] = []
    body: dict[str, Any] = {"limit": 3}
    while True:
        page = (await caller.post("/v2/customers", body)).json()
        assert page["total"] == 7
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        body["starting_after"] = seen[-1]
    assert len(seen) == 7
    assert set(seen) == made


async def test_no_body_searches_everything(caller: Caller) -> None:
    await caller.new_customer()
    response = await caller.harness.client.post("/v2/customers", auth=caller.auth)
    assert response.status_code == 200
    assert response.json()["total"] == 1


async def test_search_with_every_invalid_field_lists_each(caller: Caller) -> None:
    response = await caller.post(
        "/v2/customers",
        {
            "partner_customer_id": "",
            "ssn": "12-345-6789",
            "date_of_birth": {"year": 1990, "month": 2, "day": 30},
            "limit": 101,
            "starting_after": 7,
        },
    )
    assert response.status_code == 400
    assert sorted(response.json()["details"]) == sorted(
        [
            "partner_customer_id: must not be empty",
            "date_of_birth: must be a real calendar date",
            "ssn: must be 9 digits, written 123456789 or 123-45-6789",
            "limit: must be less than or equal to 100",
            "starting_after: must be a string",
        ]
    )
    assert "12-345-6789" not in response.text  # the invalid value is never echoed


async def test_ssn_without_date_of_birth_is_400(caller: Caller) -> None:
    response = await caller.post("/v2/customers", {"ssn": SSN})
    assert response.status_code == 400
    assert response.json()["details"] == ["ssn: requires date_of_birth"]


@pytest.mark.parametrize(
    ("date_of_birth", "detail"),
    [
        ({"year": 3000, "month": 1, "day": 1}, "date_of_birth: must not be in the future"),
        ({"year": 1899, "month": 12, "day": 31}, f"date_of_birth.year: {AT_LEAST} 1900"),
        ({"year": 1990, "month": 13, "day": 1}, f"date_of_birth.month: {AT_MOST} 12"),
        ({"year": 1990, "month": 1}, "date_of_birth.day: is required"),
        ({"year": "1990", "month": 1, "day": 1}, "date_of_birth.year: must be an integer"),
        ("1990-01-01", "date_of_birth: must be an object"),
    ],
)
async def test_invalid_date_of_birth_is_400(
    caller: Caller, date_of_birth: Any, detail: str
) -> None:
    response = await caller.post("/v2/customers", {"date_of_birth": date_of_birth})
    assert response.status_code == 400
    assert response.json()["details"] == [detail]


async def test_search_starting_after_another_partners_customer_is_400(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_customer()
    response = await caller.post("/v2/customers", {"starting_after": theirs})
    assert response.status_code == 400
    assert response.json()["details"] == ["starting_after: must be the id of one of your customers"]


async def test_search_body_must_be_json(caller: Caller) -> None:
    response = await caller.harness.client.post(
        "/v2/customers", content=b"ssn=1", headers={"content-type": "text/plain"}, auth=caller.auth
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["content-type: must be application/json"]


async def test_search_body_over_the_limit_is_413(caller: Caller) -> None:
    body = {"partner_customer_id": "x" * 70_000}
    response = await caller.post("/v2/customers", body)
    assert response.status_code == 413


# -- the SSN is never stored -----------------------------------------------------------------------


# An SSN used only here and handed to the leak registry: the end-of-suite sweep then proves it
# reached no log line and no database, in any encoding. The nine digits alone are looked for only
# in context (next to "ssn", or as a whole cell): anywhere, they would match a timestamp by chance.
SWEPT_SSN = "536-22-8174"
_REGISTRY.remember(SWEPT_SSN)
_REGISTRY.remember_ssn(SWEPT_SSN)


async def test_database_row_holds_only_ssn4_and_a_keyed_hash(
    caller: Caller, inspector: DatabaseInspector, harness: Harness
) -> None:
    customer_id = await caller.new_customer()
    await set_identity(caller, customer_id, ssn=SWEPT_SSN, date_of_birth=DOB)
    found = await caller.post("/v2/customers", {"ssn": SWEPT_SSN, "date_of_birth": DOB})
    assert [c["id"] for c in found.json()["data"]] == [customer_id]
    row = inspector.scalar(
        "SELECT coalesce(ssn4, '') || '|' || coalesce(ssn_hash, '') FROM customers WHERE id = ?",
        customer_id if inspector.url.startswith("sqlite") else customer_id.lower(),
    )
    ssn4, ssn_hash = row.split("|")
    assert ssn4 == "8174"
    assert ssn_hash == harness.services.box.ssn_hash(caller.partner_id, SWEPT_SSN)
    everything = customer_text(inspector, customer_id)
    for form in (SWEPT_SSN, SWEPT_SSN.replace("-", ""), "53622", "536-22"):
        assert form not in everything


def customer_text(inspector: DatabaseInspector, customer_id: str) -> str:
    """The whole customers row as text (every column)."""
    if inspector.url.startswith("postgresql"):
        return str(inspector.scalar("SELECT c::text FROM customers c WHERE id = ?", customer_id))
    columns = (
        "id, partner_id, partner_customer_id, email, phone, first_name, last_name, "
        "preferred_language, address, account_history, metadata, created_at, updated_at, "
        "date_of_birth, ssn4, ssn_hash, phone_verified_at, statuses"
    )
    concatenated = " || '|' || ".join(f"coalesce({c}, '')" for c in columns.split(", "))
    return str(inspector.scalar(f"SELECT {concatenated} FROM customers WHERE id = ?", customer_id))


async def test_same_ssn_hashes_differently_for_two_partners(
    caller: Caller, intruder: Caller, harness: Harness
) -> None:
    box = harness.services.box
    assert box.ssn_hash(caller.partner_id, SSN) != box.ssn_hash(intruder.partner_id, SSN)


async def test_ssn_stored_under_a_retired_master_key_is_still_found(
    caller: Caller, settings: Settings, clock: ManualClock
) -> None:
    customer_id = await caller.new_customer()
    await set_identity(caller, customer_id, ssn=SSN, date_of_birth=DOB)
    assert settings.secret_key is not None
    old_key = settings.secret_key.get_secret_value()
    async with other_app(
        settings, clock, secret_key="rotated-master-key-" + "r" * 32, previous_secret_keys=old_key
    ) as client:
        response = await client.post(
            "/v2/customers", json={"ssn": SSN, "date_of_birth": DOB}, auth=caller.auth
        )
        assert response.status_code == 200
        assert [c["id"] for c in response.json()["data"]] == [customer_id]
    async with other_app(settings, clock, secret_key="rotated-master-key-" + "r" * 32) as client:
        # The old key retired for good: its API key and its SSN hashes are gone with it.
        response = await client.post(
            "/v2/customers", json={"ssn": SSN, "date_of_birth": DOB}, auth=caller.auth
        )
        assert response.status_code == 401


async def test_another_partners_list_is_untouched_by_searches(
    caller: Caller, new_caller: NewCaller
) -> None:
    other = await new_caller()
    await other.new_customer()
    await caller.post("/v2/customers", {})
    assert (await other.get("/v2/customers")).json()["total"] == 1


async def test_nul_characters_are_400_on_both_databases(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    answers = [
        await caller.get("/v2/customers", params={"partner_customer_id": "a\x00b"}),
        await caller.post("/v2/customers", {"partner_customer_id": "a\x00b"}),
        await caller.post(f"/v2/customers/{customer_id}", {"first_name": "a\x00b"}),
        await caller.post(f"/v2/customers/{customer_id}", {"partner_customer_id": "a\x00b"}),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    metadata = await caller.post(f"/v2/customers/{customer_id}", {"metadata": {"k": "a\x00b"}})
    assert metadata.status_code == 200  # JSON text escapes it: stored and returned intact
    assert metadata.json()["metadata"] == {"k": "a\x00b"}
