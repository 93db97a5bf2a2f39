"""The per-process object graph every surface reads: settings, database, keys, clock, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from imprint_sessions.adapters.otp_sender import WebhookOtpSender
from imprint_sessions.adapters.underwriter import HttpUnderwriter
from imprint_sessions.clock import Clock, SandboxClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain.api_keys import ApiKeyAuthenticator
from imprint_sessions.domain.decisions import (
    DecisionEngine,
    Rules,
    RulesDecisionEngine,
    SandboxDecisionEngine,
)
from imprint_sessions.domain.origins import OriginPolicy, normalise_origin
from imprint_sessions.domain.phone_verification import OtpSender, UnconfiguredOtpSender
from imprint_sessions.fault_injection import FaultInjector
from imprint_sessions.ratelimit import RateLimiter
from imprint_sessions.storage.db import Database
from imprint_sessions.webhooks.targets import TargetPolicy


@dataclass
class Services:
    settings: Settings
    database: Database
    box: SecretBox
    clock: Clock
    rate_limiter: RateLimiter | None = None  # None: no rate limits
    authenticator: ApiKeyAuthenticator = field(init=False)
    # The client API's pluggable parts, chosen from the settings (tests may replace them).
    decision_engine: DecisionEngine = field(init=False)
    otp_sender: OtpSender = field(init=False)
    origin_policy: OriginPolicy = field(init=False)
    # Which webhook URLs may be registered (tests may replace it with a stub resolver's).
    webhook_targets: TargetPolicy = field(init=False)
    # Sandbox test faults (``fault_injection.py``); None in production, where none ever apply.
    faults: FaultInjector | None = field(init=False)

    def __post_init__(self) -> None:
        if self.settings.sandbox and not isinstance(self.clock, SandboxClock):
            self.clock = SandboxClock(self.clock)  # a sandbox's requests follow its test clock
        self.authenticator = ApiKeyAuthenticator(self.box)
        self.webhook_targets = TargetPolicy.for_settings(self.settings)
        self.faults = FaultInjector() if self.settings.sandbox else None
        self.decision_engine = build_decision_engine(self.settings, self.clock)
        self.otp_sender = (
            WebhookOtpSender(self.settings.otp_sender_url)
            if self.settings.otp_sender_url
            else UnconfiguredOtpSender()
        )
        self.origin_policy = OriginPolicy(
            sandbox=self.settings.sandbox,
            public_origin=normalise_origin(
                "/".join((self.settings.public_url or "").split("/")[:3])
            ),
        )


def build_decision_engine(settings: Settings, clock: Clock) -> DecisionEngine:
    """Sandbox: the last-name rule. Production: the external underwriter if
    ``IMPRINT_UNDERWRITER_URL`` is set, else the rules engine (``IMPRINT_RULES_*``)."""
    if settings.sandbox:
        return SandboxDecisionEngine()
    if settings.underwriter_url:
        return HttpUnderwriter(
            settings.underwriter_url, timeout_seconds=settings.underwriter_timeout_seconds
        )
    rules = Rules(
        min_income_amount=settings.rules_min_income_amount,
        max_housing_ratio=settings.rules_max_housing_ratio,
        min_age=settings.rules_min_age,
        max_credit_limit_amount=settings.rules_max_credit_limit_amount,
        card_apr=settings.rules_card_apr,
        loan_apr=settings.rules_loan_apr,
    )
    return RulesDecisionEngine(rules, clock=clock)
