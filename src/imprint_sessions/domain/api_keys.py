"""Authenticating an API key: one answer for every failure, and a one-second cache.

The cache holds only positive answers, keyed by the key's hash, for at most one second: a revoked
key stops working everywhere within that second, and nothing another process needs lives here.
"""

from __future__ import annotations

import time

from imprint_sessions.credentials import SecretBox
from imprint_sessions.errors import Unauthorized
from imprint_sessions.storage.records import Principal
from imprint_sessions.storage.repositories import Repositories

CACHE_TTL_SECONDS = 1.0
_CACHE_MAX_ENTRIES = 10_000


class ApiKeyAuthenticator:
    def __init__(self, box: SecretBox) -> None:
        self._box = box
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, repos: Repositories, api_key: str | None) -> Principal:
        """The principal of a live key; ``Unauthorized`` (always the same) for anything else.

        Missing and malformed keys are hashed and looked up as a decoy, so every failure costs
        the same work and takes the same time.
        """
        hashes = self._box.api_key_lookup_hashes(api_key)
        now = time.monotonic()
        cached = self._cache.get(hashes[0])
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = await repos.find_principal_by_key_hashes(hashes)
        if principal is None:
            raise Unauthorized()
        if len(self._cache) >= _CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[hashes[0]] = (principal, now + CACHE_TTL_SECONDS)
        return principal

    def forget_partner(self, partner_id: str) -> None:
        """Drop this process's cached answers for the partner's keys (its keys were just revoked
        here: they stop working in this process at once, in the others within the cache's TTL)."""
        for key_hash, (principal, _) in list(self._cache.items()):
            if principal.partner_id == partner_id:
                del self._cache[key_hash]
