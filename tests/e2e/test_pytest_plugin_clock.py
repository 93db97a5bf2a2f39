"""The pytest plugin's ``imprint_clock``, run by pytest in a fresh process as a partner runs it:
each way of starting and moving the clock, against the embedded server the plugin starts.

Regression: ``advance_to(datetime)`` sent ``2031-05-02T09:00:00+00:00``, which the API refuses
(a test clock's times are UTC written with ``Z``); nothing ran it before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from partner_suite import assert_partner_suite_passes

pytestmark = pytest.mark.slow

PARTNER_TESTS = """
from datetime import UTC, datetime, timedelta

import pytest


@pytest.mark.imprint_clock(frozen_time="2031-05-01T09:00:00Z")
def test_it_starts_where_the_marker_says_and_moves_as_told(imprint_sandbox, imprint_clock):
    assert imprint_clock.now == datetime(2031, 5, 1, 9, tzinfo=UTC)
    assert imprint_clock.advance(days=1, hours=2) == datetime(2031, 5, 2, 11, tzinfo=UTC)
    moved = imprint_clock.advance_to(datetime(2031, 5, 3, 8, tzinfo=UTC) + timedelta(hours=1))
    assert moved == datetime(2031, 5, 3, 9, tzinfo=UTC)
    assert imprint_clock.advance_to("2031-05-04T09:00:00Z") == datetime(2031, 5, 4, 9, tzinfo=UTC)
    session = imprint_sandbox.client.post("/v2/customer_sessions", json={}).json()
    assert session["expires_at"] == "2031-05-04T09:30:00.000Z"
    with pytest.raises(ValueError, match="aware datetime"):
        imprint_clock.advance_to(datetime(2031, 6, 1))


def test_without_a_marker_it_starts_now(imprint_clock):
    assert abs(imprint_clock.now - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_sandbox_without_the_fixture_has_no_clock(imprint_sandbox):
    assert imprint_sandbox.test_clock is None
"""


def test_each_way_of_moving_the_clock_works_from_a_partners_suite(tmp_path: Path) -> None:
    assert_partner_suite_passes(tmp_path, {"test_partner_clock.py": PARTNER_TESTS}, passed=3)
