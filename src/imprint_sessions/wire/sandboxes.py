"""Wire shapes of the throwaway sandboxes (``/v2/test_helpers/sandboxes``, sandbox mode only)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.domain.test_clocks import MAX_ADVANCE_SECONDS
from imprint_sessions.storage import records
from imprint_sessions.validation import JsonInteger, SandboxName, UtcTimestamp
from imprint_sessions.wire.partner import Timestamp, _RequestBody, _ResponseBody
from imprint_sessions.wire.serializers import From, serializer

_AT = "2025-02-13T19:08:07.000Z"
_Seconds = Annotated[int, Field(strict=True, ge=0, le=MAX_ADVANCE_SECONDS), JsonInteger]


class NewTestClock(_RequestBody):
    """A test clock for the new sandbox: its time stands still until you advance it."""

    __test__ = False  # not a pytest test class, despite the name

    frozen_time: UtcTimestamp | None = Field(
        default=None,
        description=(
            "The time it starts at, in UTC, 1970 to 9999 (default: now). The sandbox's sessions, "
            "secrets, codes, credentials, idempotency keys and webhook retries follow it"
        ),
        examples=[_AT],
    )


class CreateSandboxRequest(_RequestBody):
    """The (optional) body of POST /v2/test_helpers/sandboxes."""

    name: SandboxName | None = Field(
        default=None,
        description="What the sandbox is for (default `Throwaway sandbox`), e.g. the CI job",
        examples=["ci-build-4812"],
    )
    test_clock: NewTestClock | None = Field(
        default=None,
        description=(
            "Give the sandbox a test clock (`{}`: starting now). It keeps it for its whole life; "
            "without one, the sandbox keeps real time"
        ),
        examples=[{"frozen_time": _AT}],
    )


class TestClock(_ResponseBody):
    """A sandbox's test clock: the time everything in the sandbox reads as now."""

    __test__ = False  # not a pytest test class, despite the name

    sandbox_id: str = Field(examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"])
    frozen_time: Annotated[str, From("frozen_at", convert=rfc3339_ms)] = Field(
        description="The time the clock shows; it moves only when advanced", examples=[_AT]
    )


def test_clock_view(sandbox: records.Sandbox) -> records.TestClock | None:
    """The sandbox's test clock; None when it has none."""
    if sandbox.test_clock_at is None:
        return None
    return records.TestClock(sandbox_id=sandbox.id, frozen_at=sandbox.test_clock_at)


class AdvanceTestClockRequest(_RequestBody):
    """The body of POST .../test_clock/advance: exactly one of `frozen_time` and `seconds`."""

    EXACTLY_ONE_OF: ClassVar[tuple[str, ...]] = ("frozen_time", "seconds")

    frozen_time: UtcTimestamp | None = Field(
        default=None,
        description="The time to move the clock to, in UTC: not before the time it shows (409)",
        examples=["2025-02-14T19:08:07.000Z"],
    )
    seconds: _Seconds | None = Field(
        default=None,
        description="How far to move the clock on from the time it shows, in seconds",
        examples=[3600],
    )


class Sandbox(_ResponseBody):
    """A throwaway sandbox: a partner of its own, with its own keys and data."""

    id: str = Field(
        description="The sandbox's partner id", examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"]
    )
    name: str = Field(examples=["ci-build-4812"])
    parent_id: str = Field(
        description="The partner whose key created it (it may reset or delete it)",
        examples=["7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F"],
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    test_clock: Annotated[TestClock | None, From(compute=lambda s, _: test_clock_view(s))] = Field(
        default=None, description="Its test clock, if it was created with one"
    )


class CreatedSandbox(Sandbox):
    """A new sandbox. `api_key` is shown this once: only a keyed hash of it is stored."""

    api_key: Annotated[str, From(compute=lambda _, api_key: api_key)] = Field(
        description="The sandbox's API key (`isk_test_...`): call the API as the sandbox with it",
        examples=["isk_test_2vQa..."],
    )


class SandboxList(_ResponseBody):
    """The caller's live sandboxes, oldest first."""

    data: Annotated[list[Sandbox], From("items")]
    has_more: bool
    total: int


class DeletedSandbox(_ResponseBody):
    """A deleted sandbox: its data is gone and its keys no longer work."""

    id: str = Field(examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"])
    deleted: Literal[True]


SANDBOX = serializer(Sandbox, record=records.Sandbox)
TEST_CLOCK = serializer(TestClock, record=records.TestClock)
CREATED_SANDBOX = serializer(CreatedSandbox, record=records.Sandbox)
SANDBOX_LIST = serializer(SandboxList, record=records.Page)
