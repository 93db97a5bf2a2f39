"""The ``Imprint-Test-Fault`` header's grammar: what each form asks for (its refusals, with the
400 they give: tests/integration/partner_api/test_forced_errors.py)."""

from __future__ import annotations

import pytest

from imprint_sessions.domain.faults import FaultAction, outcome_problem
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.fault_injection import parse_fault_header


@pytest.mark.parametrize(
    ("value", "action"),
    [
        ("status=503; retry_after=2", FaultAction(status=503, retry_after=2)),
        ("status=503", FaultAction(status=503, retry_after=1)),
        ("status=429", FaultAction(status=429, retry_after=1)),
        ("status=500", FaultAction(status=500)),
        ("delay_ms=300", FaultAction(delay_ms=300)),
        ("drop", FaultAction(drop=True)),
        ("DROP ; delay_ms = 5", FaultAction(delay_ms=5, drop=True)),
        ("delay_ms=100;status=500", FaultAction(delay_ms=100, status=500)),
        ("retry_after=3600; status=429", FaultAction(status=429, retry_after=3600)),
    ],
)
def test_each_form_asks_for_its_action(value: str, action: FaultAction) -> None:
    assert parse_fault_header(value) == action


@pytest.mark.parametrize(
    "value",
    [
        "",
        ";",
        "status=503;",
        "status=503; retry_after=0",
        "status=503; retry_after=3601",
        "status=+503",
        "status=503.0",
        "delay_ms=1e3",
        "drop; drop",
        "drop=yes",
        "timeout=5",
        "status=503" + " " * 200,
        "délai=5",
    ],
)
def test_anything_else_is_refused_naming_the_header(value: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_fault_header(value)
    (detail,) = refused.value.details
    assert detail.startswith("imprint-test-fault: ")


def test_the_hosted_outcomes_are_the_documented_states() -> None:
    assert outcome_problem("IN_PROGRESS") is None
    for code in (
        "INVALID_CLIENT_SECRET",
        "NETWORK_CONNECTION_FAILED",
        "SERVER_ERROR",
        "TIMEOUT_ERROR",
        "UNKNOWN_ERROR",
    ):
        assert outcome_problem(f"ERROR:{code}") is None
    for wrong in ("ERROR", "OFFER_ACCEPTED", "REJECTED", "CLOSED", "ERROR:TIMEOUT", "in_progress"):
        assert outcome_problem(wrong) is not None
