"""Minting, hashing and verifying every credential: API keys and client secrets.

Formats (the prefixes let scanners and log redaction find them):

- API key: ``isk_test_`` (sandbox) or ``isk_live_`` (production) + 43 base64url chars (256 bits).
  Stored only as ``HMAC-SHA256(derive(master, "api-key"), key)``.
- Client secret: ``ics_<kid>_<64 base64url chars>``: the 16 bytes of the session's UUID followed by
  ``HMAC-SHA256(derive(master, "client-secret"), uuid bytes)`` (256 bits). ``kid`` names the master
  key that minted it, so keys can rotate. Nothing about the secret is stored: it is re-derived for
  ``GET`` and verified (constant time) at exchange, so the database alone cannot rebuild one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

API_KEY_PREFIXES = {"sandbox": "isk_test_", "production": "isk_live_"}
CLIENT_SECRET_PREFIX = "ics_"  # noqa: S105 - a public prefix
_CLIENT_SECRET_RE = re.compile(r"^ics_([0-9a-f]{8})_([A-Za-z0-9_-]{64})$")
_API_KEY_RE = re.compile(r"^isk_(test|live)_[A-Za-z0-9_-]{43}$")


def _derive(master: bytes, label: str) -> bytes:
    return hmac.new(master, b"imprint-sessions/" + label.encode(), hashlib.sha256).digest()


def key_id(master: bytes) -> str:
    """A short public name for a master key (8 hex chars), recorded beside what it minted."""
    return _derive(master, "key-id").hex()[:8]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_api_key(env: str) -> str:
    """A new API key: its prefix tells sandbox from production."""
    return API_KEY_PREFIXES[env] + secrets.token_urlsafe(32)


def looks_like_api_key(candidate: str) -> bool:
    return _API_KEY_RE.fullmatch(candidate) is not None


def new_id() -> str:
    """A new public id: an uppercase hyphenated UUID4 (from the OS's cryptographic generator)."""
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True, slots=True)
class _MasterKey:
    kid: str
    api_key_mac: bytes
    client_secret_mac: bytes


class SecretBox:
    """Everything keyed by the deployment's master key(s). The first key mints; all verify."""

    def __init__(self, master_keys: list[bytes]) -> None:
        if not master_keys:
            raise ValueError("at least one master key is required")
        self._keys = [
            _MasterKey(key_id(k), _derive(k, "api-key"), _derive(k, "client-secret"))
            for k in master_keys
        ]
        self._by_kid = {k.kid: k for k in self._keys}
        # A fixed decoy so that a missing or malformed credential costs the same work as a real one.
        self._decoy = mint_api_key("sandbox")

    @property
    def current_kid(self) -> str:
        return self._keys[0].kid

    # -- API keys ---------------------------------------------------------------------------
    def api_key_hash(self, api_key: str) -> str:
        """The stored form of a new API key (under the current master key)."""
        return hmac.new(self._keys[0].api_key_mac, api_key.encode(), hashlib.sha256).hexdigest()

    def api_key_lookup_hashes(self, api_key: str | None) -> list[str]:
        """Every hash the key may be stored under (one per master key still configured).

        A malformed or missing key is hashed as a decoy so callers do the same work either way.
        """
        candidate = api_key if api_key and looks_like_api_key(api_key) else self._decoy
        hashes = [
            hmac.new(k.api_key_mac, candidate.encode(), hashlib.sha256).hexdigest()
            for k in self._keys
        ]
        if candidate is self._decoy:
            return [h[:-1] + "!" for h in hashes]  # can never match a stored (hex) hash
        return hashes

    # -- client secrets ----------------------------------------------------------------------
    def client_secret(self, customer_session_id: str, kid: str) -> str | None:
        """Re-derive a session's client secret; None when its master key is no longer configured."""
        key = self._by_kid.get(kid)
        if key is None:
            return None
        raw_id = uuid.UUID(customer_session_id).bytes
        mac = hmac.new(key.client_secret_mac, raw_id, hashlib.sha256).digest()
        return f"{CLIENT_SECRET_PREFIX}{kid}_{_b64(raw_id + mac)}"

    def verify_client_secret(self, candidate: str) -> str | None:
        """The session id a genuine secret names, or None. Constant time in the MAC comparison."""
        match = _CLIENT_SECRET_RE.fullmatch(candidate)
        if match is None:
            return None
        key = self._by_kid.get(match.group(1))
        try:
            raw = _unb64(match.group(2))
        except (binascii.Error, ValueError):
            return None
        if key is None or len(raw) != 48:
            return None
        expected = hmac.new(key.client_secret_mac, raw[:16], hashlib.sha256).digest()
        if not hmac.compare_digest(expected, raw[16:]):
            return None
        return str(uuid.UUID(bytes=raw[:16])).upper()
