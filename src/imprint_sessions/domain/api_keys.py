"""Authenticating an API key: one answer for every failure, and a one-second cache.

The cache holds only positive answers, keyed by the key's hash, for at most one second: a revoked
key stops working everywhere within that second, and nothing another process needs lives here.

Lookups are shared: while one request looks a key up, every other request with the same key
awaits that lookup instead of starting its own. Without this, each time a busy key's entry
expired every request in flight missed at once and queued for the database pool together (at
300 connections, hundreds of lookups a second for one key: the pool waits that made overload
queue for seconds, BENCHMARKS.md "Overload").
"""

from __future__ import annotations

import asyncio
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
        # Lookups under way, by key hash: the requests that missed the cache meanwhile await it.
        self._lookups: dict[str, asyncio.Task[Principal | None]] = {}
        # Bumped by ``forget_partner``: a lookup that began before it does not fill the cache.
        self._generation = 0

    async def authenticate(self, repos: Repositories, api_key: str | None) -> Principal:
        """The principal of a live key; ``Unauthorized`` (always the same) for anything else.

        Missing and malformed keys are hashed and looked up as a decoy, so every failure costs
        the same work and takes the same time.
        """
        hashes = self._box.api_key_lookup_hashes(api_key)
        cached = self._cache.get(hashes[0])
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lookup = self._lookups.get(hashes[0])
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(repos, hashes))
            lookup.add_done_callback(_retrieve)  # its failure is each awaiting request's
            self._lookups[hashes[0]] = lookup
        # Shielded: a request that goes away (its task cancelled) leaves the lookup to the others.
        principal = await asyncio.shield(lookup)
        if principal is None:
            raise Unauthorized()
        return principal

    async def _look_up(self, repos: Repositories, hashes: list[str]) -> Principal | None:
        generation = self._generation
        this = asyncio.current_task()
        try:
            principal = await repos.find_principal_by_key_hashes(hashes)
        finally:
            if self._lookups.get(hashes[0]) is this:  # not a newer lookup's, after a forget
                del self._lookups[hashes[0]]
        if principal is not None and generation == self._generation:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[hashes[0]] = (principal, time.monotonic() + CACHE_TTL_SECONDS)
        return principal

    def forget_partner(self, partner_id: str) -> None:
        """Drop this process's cached answers for the partner's keys (its keys were just revoked
        here: they stop working in this process at once, in the others within the cache's TTL).
        A lookup already under way still answers the requests awaiting it (they arrived before
        the revocation) but is not cached, and later requests look the key up afresh."""
        self._generation += 1
        self._lookups.clear()
        for key_hash, (principal, _) in list(self._cache.items()):
            if principal.partner_id == partner_id:
                del self._cache[key_hash]


def _retrieve(task: asyncio.Task[Principal | None]) -> None:
    """Mark a lookup's failure as seen: every request awaiting it was given it, and one whose
    requests all went away must not log "Task exception was never retrieved"."""
    if not task.cancelled():
        task.exception()
