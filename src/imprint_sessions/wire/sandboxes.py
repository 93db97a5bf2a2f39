"""Wire shapes of the throwaway sandboxes (``/v2/test_helpers/sandboxes``, sandbox mode only)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from imprint_sessions.storage import records
from imprint_sessions.wire.partner import Timestamp, _RequestBody, _ResponseBody
from imprint_sessions.wire.serializers import From, serializer


class CreateSandboxRequest(_RequestBody):
    """The (optional) body of POST /v2/test_helpers/sandboxes."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="What the sandbox is for (default `Throwaway sandbox`), e.g. the CI job",
        examples=["ci-build-4812"],
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
CREATED_SANDBOX = serializer(CreatedSandbox, record=records.Sandbox)
SANDBOX_LIST = serializer(SandboxList, record=records.Page)
