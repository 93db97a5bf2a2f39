"""What every resource holds: the client it sends through."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from imprint_client._client import AsyncImprint, Imprint


class SyncResource:
    __slots__ = ("_client",)

    def __init__(self, client: Imprint) -> None:
        self._client = client


class AsyncResource:
    __slots__ = ("_client",)

    def __init__(self, client: AsyncImprint) -> None:
        self._client = client
