"""Browser origins that may call the client API (CORS): their spelling and a one-second cache.

An origin is spelt as browsers send it: ``scheme://host[:port]``, lower case, without a default
port. A partner's ``allowed_origins`` are stored that way (``partners create --origin``), so the
``Origin`` header is compared with them as plain strings.
"""

from __future__ import annotations

import re
import time
from typing import Final

from imprint_sessions.storage.repositories import Repositories

CACHE_TTL_SECONDS: Final = 1.0
_CACHE_MAX_ENTRIES: Final = 10_000
_ORIGIN_RE: Final = re.compile(
    r"(https?)://([a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)(?::(\d{1,5}))?/?"
)
LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1"})


def normalise_origin(value: str | None) -> str | None:
    """``value`` as a browser serialises an origin (lowercase, no default port), or None.

    Only ``http``/``https``, a host name or IPv4 address and an optional port; a path (beyond a
    lone ``/``), query, fragment or user name makes it not an origin.
    """
    if not value:
        return None
    match = _ORIGIN_RE.fullmatch(value.strip().lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port is not None and not 0 < int(port) <= 65535:
        return None
    if (scheme, port) in (("http", "80"), ("https", "443")):
        port = None
    return f"{scheme}://{host}" + (f":{int(port)}" if port else "")


def is_local_origin(origin: str) -> bool:
    """``http(s)://localhost`` or ``127.0.0.1`` on any port (allowed in the sandbox)."""
    normalised = normalise_origin(origin)
    if normalised is None:
        return False
    host = normalised.split("://", 1)[1].rsplit(":", 1)[0]
    return host in LOCAL_HOSTS


class OriginPolicy:
    """Which origins may read client API responses.

    Always the service's own origin (``IMPRINT_PUBLIC_URL``, else the request's own); in the
    sandbox any localhost origin; otherwise a partner's ``allowed_origins``: the partner named by
    the request's client credential, or, for a preflight or a call without one (the exchange),
    any partner's. Partner origins are cached for at most one second per process.
    """

    def __init__(self, *, sandbox: bool, public_origin: str | None) -> None:
        self._sandbox = sandbox
        self._public_origin = public_origin
        self._by_partner: dict[str, tuple[frozenset[str], float]] = {}
        self._by_origin: dict[str, tuple[bool, float]] = {}

    async def allows(
        self,
        repos: Repositories,
        origin: str,
        *,
        request_origin: str | None,
        partner_id: str | None,
    ) -> bool:
        if origin == (self._public_origin or request_origin):
            return True
        if self._sandbox and is_local_origin(origin):
            return True
        if partner_id is not None:
            return origin in await self._partner_origins(repos, partner_id)
        return await self._any_partner_allows(repos, origin)

    async def _partner_origins(self, repos: Repositories, partner_id: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._by_partner.get(partner_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        partner = await repos.get_partner(partner_id)
        origins = frozenset(partner.allowed_origins) if partner is not None else frozenset()
        if len(self._by_partner) >= _CACHE_MAX_ENTRIES:
            self._by_partner.clear()
        self._by_partner[partner_id] = (origins, now + CACHE_TTL_SECONDS)
        return origins

    async def _any_partner_allows(self, repos: Repositories, origin: str) -> bool:
        now = time.monotonic()
        cached = self._by_origin.get(origin)
        if cached is not None and cached[1] > now:
            return cached[0]
        allowed = await repos.any_partner_allows_origin(origin)
        if len(self._by_origin) >= _CACHE_MAX_ENTRIES:  # Origin is the caller's to choose
            self._by_origin.clear()
        self._by_origin[origin] = (allowed, now + CACHE_TTL_SECONDS)
        return allowed
