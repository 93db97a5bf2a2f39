"""The decision engines: the sandbox's last-name rule and the production rules engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from imprint_sessions.clock import ManualClock
from imprint_sessions.domain.decisions import (
    ApplicationInput,
    Rules,
    RulesDecisionEngine,
    SandboxDecisionEngine,
    age_on,
)
from imprint_sessions.storage.records import Customer

NOW = ManualClock(1_780_000_000_000)  # 2026-05-28
CUSTOMER = Customer(
    id="C",
    partner_id="P",
    partner_customer_id=None,
    email=None,
    phone=None,
    phone_verified_at=None,
    first_name=None,
    last_name=None,
    preferred_language=None,
    date_of_birth=None,
    address_json=None,
    statuses_json="{}",
    created_at=0,
    updated_at=0,
)
CARD = ApplicationInput(
    type="CARD",
    ssn4="1234",
    housing_type="RENT",
    housing_cost=150_000,  # $1,500 a month
    housing_currency="USD",
    income_type="EMPLOYED",
    income_amount=9_000_000,  # $90,000 a year
    income_currency="USD",
    first_name="Ada",
    last_name="Lovelace",
    email="ada@example.com",
    phone="+14155552671",
    date_of_birth=date(1990, 7, 14),
    address={"country": "USA"},
)
LOAN = replace(CARD, type="LOAN", amount=1_000_000, term_months=24)
RULES = RulesDecisionEngine(Rules(), clock=NOW)


async def test_rules_approve_a_card_at_a_tenth_of_income_capped() -> None:
    decision = await RULES.decide(CARD, CUSTOMER)
    assert decision.status == "APPROVED"
    assert decision.offer is not None
    assert (decision.offer.credit_limit, decision.offer.apr) == (900_000, "24.99")
    rich = await RULES.decide(replace(CARD, income_amount=50_000_000), CUSTOMER)
    assert rich.offer is not None
    assert rich.offer.credit_limit == Rules().max_credit_limit_amount


async def test_rules_round_the_limit_down_to_whole_hundreds() -> None:
    decision = await RULES.decide(replace(CARD, income_amount=1_234_567, housing_cost=0), CUSTOMER)
    assert decision.offer is not None
    assert decision.offer.credit_limit == 120_000


async def test_rules_approve_a_loan_as_asked() -> None:
    decision = await RULES.decide(LOAN, CUSTOMER)
    assert decision.status == "APPROVED"
    assert decision.offer is not None
    assert (decision.offer.amount, decision.offer.term_months, decision.offer.apr) == (
        1_000_000,
        24,
        "9.99",
    )


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"income_amount": 1_199_999}, "REJECTED"),
        ({"date_of_birth": date(2010, 1, 1)}, "REJECTED"),
        ({"housing_cost": 400_000}, "PENDING_REVIEW"),  # $48k a year on $90k
        ({"income_currency": "EUR"}, "PENDING_REVIEW"),
    ],
    ids=["low income", "too young", "housing high", "not usd"],
)
async def test_rules_outcomes(change: dict[str, object], status: str) -> None:
    decision = await RULES.decide(replace(CARD, **change), CUSTOMER)  # type: ignore[arg-type]
    assert decision.status == status
    assert decision.offer is None
    assert decision.reason


async def test_a_loan_over_half_the_income_goes_to_review() -> None:
    decision = await RULES.decide(replace(LOAN, amount=4_500_001), CUSTOMER)
    assert decision.status == "PENDING_REVIEW"


async def test_rules_are_configurable() -> None:
    strict = RulesDecisionEngine(
        Rules(min_income_amount=10_000_000, min_age=40, card_apr="19.99"), clock=NOW
    )
    assert (await strict.decide(CARD, CUSTOMER)).status == "REJECTED"
    older = replace(CARD, date_of_birth=date(1970, 1, 1), income_amount=12_000_000)
    decision = await strict.decide(older, CUSTOMER)
    assert decision.offer is not None
    assert decision.offer.apr == "19.99"


@pytest.mark.parametrize(
    ("last_name", "status"),
    [("approve", "APPROVED"), ("review", "PENDING_REVIEW"), ("frozen", "PENDING_REVIEW")]
    + [(name, "REJECTED") for name in ("APPROVE", "Approve", "approved", "", "Doe")],
)
async def test_sandbox_last_name_decides(last_name: str, status: str) -> None:
    decision = await SandboxDecisionEngine().decide(replace(CARD, last_name=last_name), CUSTOMER)
    assert decision.status == status
    assert (decision.offer is not None) == (status == "APPROVED")


def test_age_counts_whole_years() -> None:
    assert age_on(date(2000, 5, 28), date(2018, 5, 28)) == 18
    assert age_on(date(2000, 5, 29), date(2018, 5, 28)) == 17
    assert age_on(date(2000, 2, 29), date(2018, 2, 28)) == 17
