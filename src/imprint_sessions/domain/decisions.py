"""Credit decisions behind one interface: the sandbox's last-name rule, a configurable rules
engine for production, and (in ``adapters/underwriter.py``) an external underwriter over HTTP.

An engine only decides; recording the decision is ``applications.record_decision``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, Protocol

from imprint_sessions.clock import Clock
from imprint_sessions.storage.records import Customer

ApplicationType = Literal["CARD", "LOAN"]
DecisionStatus = Literal["APPROVED", "PENDING_REVIEW", "REJECTED"]

APPROVED: Final = "APPROVED"
PENDING_REVIEW: Final = "PENDING_REVIEW"
REJECTED: Final = "REJECTED"
OFFER_ACCEPTED: Final = "OFFER_ACCEPTED"

DEFAULT_CURRENCY: Final = "USD"
SANDBOX_CARD_CREDIT_LIMIT: Final = 500_000  # $5,000.00
SANDBOX_CARD_APR: Final = "24.99"
SANDBOX_LOAN_APR: Final = "9.99"


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    """A complete application: the applicant's answers, gaps filled from profile and history."""

    type: ApplicationType
    ssn4: str
    housing_type: str
    housing_cost: int  # monthly, minor units
    housing_currency: str
    income_type: str
    income_amount: int  # yearly, minor units
    income_currency: str
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    address: dict[str, Any]
    amount: int | None = None  # LOAN only
    term_months: int | None = None  # LOAN only
    customer_history: dict[str, Any] = field(default_factory=dict)

    def answers(self) -> dict[str, Any]:
        """The applicant's answers as stored and sent to an underwriter (no history)."""
        return {
            "type": self.type,
            "ssn4": self.ssn4,
            "housing_type": self.housing_type,
            "housing_cost": self.housing_cost,
            "housing_currency": self.housing_currency,
            "income_type": self.income_type,
            "income_amount": self.income_amount,
            "income_currency": self.income_currency,
            "amount": self.amount,
            "term_months": self.term_months,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "date_of_birth": self.date_of_birth.isoformat(),
            "address": self.address,
        }


@dataclass(frozen=True, slots=True)
class Offer:
    """What an approval offers: a card's ``credit_limit`` or a loan's ``amount`` and term."""

    currency: str
    apr: str  # percent, two decimals: "24.99"
    credit_limit: int | None = None
    amount: int | None = None
    term_months: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "credit_limit": self.credit_limit,
            "amount": self.amount,
            "currency": self.currency,
            "apr": self.apr,
            "term_months": self.term_months,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Offer:
        return cls(
            currency=data["currency"],
            apr=data["apr"],
            credit_limit=data.get("credit_limit"),
            amount=data.get("amount"),
            term_months=data.get("term_months"),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    status: DecisionStatus
    offer: Offer | None = None  # only with APPROVED
    reason: str | None = None


class DecisionEngine(Protocol):
    async def decide(self, application: ApplicationInput, customer: Customer) -> Decision:
        """Decide; never raise for a bad reply or an outage (decide PENDING_REVIEW instead)."""
        ...


def utc_today(clock: Clock) -> date:
    return datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC).date()


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def loan_offer(application: ApplicationInput, apr: str) -> Offer:
    """A loan is offered as asked: the requested amount over the requested term."""
    return Offer(
        currency=DEFAULT_CURRENCY,
        apr=apr,
        amount=application.amount,
        term_months=application.term_months,
    )


class SandboxDecisionEngine:
    """The sandbox rule: the applicant's last name decides (case-sensitive)."""

    async def decide(self, application: ApplicationInput, customer: Customer) -> Decision:
        last_name = application.last_name
        if last_name == "approve":
            if application.type == "CARD":
                offer = Offer(
                    currency=DEFAULT_CURRENCY,
                    apr=SANDBOX_CARD_APR,
                    credit_limit=SANDBOX_CARD_CREDIT_LIMIT,
                )
            else:
                offer = loan_offer(application, SANDBOX_LOAN_APR)
            return Decision(APPROVED, offer, "sandbox: last name 'approve'")
        if last_name in ("review", "frozen"):
            return Decision(PENDING_REVIEW, None, f"sandbox: last name '{last_name}'")
        return Decision(REJECTED, None, "sandbox: last name")


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules engine's settings (``IMPRINT_RULES_*``)."""

    min_income_amount: int = 1_200_000  # yearly, minor units
    max_housing_ratio: float = 0.5  # yearly housing cost / yearly income
    min_age: int = 18
    max_credit_limit_amount: int = 1_000_000
    card_apr: str = "24.99"
    loan_apr: str = "9.99"


# Card limits are a tenth of yearly income, in whole hundreds, never below this.
_MIN_CREDIT_LIMIT: Final = 10_000
_CREDIT_LIMIT_STEP: Final = 10_000


class RulesDecisionEngine:
    """Production's default: income, housing cost and age, in that order.

    - younger than ``min_age`` or income under ``min_income_amount``: REJECTED;
    - housing over ``max_housing_ratio`` of income, a loan over half the yearly income, or
      amounts in a currency other than USD: PENDING_REVIEW (a person looks at it);
    - otherwise APPROVED: a card limit of a tenth of yearly income (capped), or the loan asked.
    """

    def __init__(self, rules: Rules, *, clock: Clock) -> None:
        self._rules = rules
        self._clock = clock

    async def decide(self, application: ApplicationInput, customer: Customer) -> Decision:
        rules = self._rules
        if age_on(application.date_of_birth, utc_today(self._clock)) < rules.min_age:
            return Decision(REJECTED, None, "rules: below the minimum age")
        if {application.income_currency, application.housing_currency} != {DEFAULT_CURRENCY}:
            return Decision(PENDING_REVIEW, None, "rules: amounts not in USD")
        income = application.income_amount
        if income < rules.min_income_amount:
            return Decision(REJECTED, None, "rules: income below the minimum")
        if application.housing_cost * 12 > income * rules.max_housing_ratio:
            return Decision(PENDING_REVIEW, None, "rules: housing cost high for the income")
        if application.type == "LOAN":
            if (application.amount or 0) * 2 > income:
                return Decision(PENDING_REVIEW, None, "rules: loan large for the income")
            return Decision(APPROVED, loan_offer(application, rules.loan_apr), "rules: approved")
        limit = min(income // 10, rules.max_credit_limit_amount)
        limit = max(limit - limit % _CREDIT_LIMIT_STEP, _MIN_CREDIT_LIMIT)
        offer = Offer(currency=DEFAULT_CURRENCY, apr=rules.card_apr, credit_limit=limit)
        return Decision(APPROVED, offer, "rules: approved")
