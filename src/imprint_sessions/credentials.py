"""Minting, hashing and verifying every credential: API keys and client secrets.

Formats (the prefixes let scanners and log redaction find them):

- API key: ``isk_test_`` (sandbox) or ``isk_live_`` (production) + 43 base64url chars (256 bits).
  Stored only as ``HMAC-SHA256(derive(master, "api-key"), key)``.
- Client secret: ``ics_<kid>_<64 base64url chars>``: the 16 bytes of the session's UUID followed by
  ``HMAC-SHA256(derive(master, "client-secret"), uuid bytes)`` (256 bits). ``kid`` names the master
  key that minted it, so keys can rotate. Nothing about the secret is stored: it is re-derived for
  ``GET`` and verified (constant time) at exchange, so the database alone cannot rebuild one.
- SSN (not a credential, but never stored): ``HMAC-SHA256(derive(master, "ssn"), partner id + "|" +
  9 digits)``, so a partner can search by SSN while the database holds only this hash and ``ssn4``.
- Client access token: ``ict_`` + base64url(``kid`` (4 bytes) + session, customer and partner UUIDs
  (16 bytes each) + expiry (8 bytes, epoch ms) + ``HMAC-SHA256(derive(master, "client-token"),
  those 60 bytes)``): 123 base64url characters, stateless (nothing stored), bound to one session
  and its customer. Only base64url characters follow the prefix, so log redaction sees one word.
- One-time codes: 6 digits from the OS generator, stored as ``HMAC-SHA256(derive(master,
  "otp-code"), challenge id + code)`` and compared in constant time.
- Webhook signing secret: ``whsec_`` + base64(``HMAC-SHA256(derive(master, "webhook-secret"),
  endpoint uuid bytes + version (8 bytes))``), the Standard Webhooks form. Nothing is stored: the
  endpoint row keeps only the version and the ``kid`` it was minted under, and the worker
  re-derives the key to sign each attempt. A rotation is a new version.
- Operator credential (the console's login): ``ioc_`` + 43 base64url chars (256 bits), printed
  once by ``operators create`` and stored only as ``HMAC-SHA256(derive(master,
  "operator-credential"), credential)``.
- Operator session token (the console's cookie): ``iot_`` + 43 base64url chars, stored only as
  ``HMAC-SHA256(derive(master, "operator-session"), token)``; its form token (CSRF) is
  ``HMAC-SHA256(derive(master, "console-csrf"), session id)`` in hex, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import uuid
from dataclasses import dataclass

API_KEY_PREFIXES = {"sandbox": "isk_test_", "production": "isk_live_"}
CLIENT_SECRET_PREFIX = "ics_"  # noqa: S105 - a public prefix
_CLIENT_SECRET_RE = re.compile(r"^ics_([0-9a-f]{8})_([A-Za-z0-9_-]{64})$")
_API_KEY_RE = re.compile(r"^isk_(test|live)_[A-Za-z0-9_-]{43}$")
CLIENT_TOKEN_PREFIX = "ict_"  # noqa: S105 - a public prefix
_CLIENT_TOKEN_RE = re.compile(r"^ict_([A-Za-z0-9_-]{123})$")
_TOKEN_PAYLOAD = struct.Struct(">4s16s16s16sq")  # kid, session, customer, partner, expires_at
OTP_CODE_DIGITS = 6
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix
OPERATOR_CREDENTIAL_PREFIX = "ioc_"
OPERATOR_SESSION_PREFIX = "iot_"
_OPERATOR_CREDENTIAL_RE = re.compile(r"^ioc_[A-Za-z0-9_-]{43}$")
_OPERATOR_SESSION_RE = re.compile(r"^iot_[A-Za-z0-9_-]{43}$")


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


def mint_operator_credential() -> str:
    """A new operator credential (the console's login), shown once."""
    return OPERATOR_CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def mint_operator_session_token() -> str:
    """A new console session token (the cookie's value)."""
    return OPERATOR_SESSION_PREFIX + secrets.token_urlsafe(32)


def looks_like_api_key(candidate: str) -> bool:
    return _API_KEY_RE.fullmatch(candidate) is not None


def new_id() -> str:
    """A new public id: an uppercase hyphenated UUID4 (from the OS's cryptographic generator)."""
    return str(uuid.uuid4()).upper()


def canonical_id(value: str) -> str | None:
    """A caller's spelling of a public id as stored (uppercase, hyphenated); None if not a UUID."""
    try:
        return str(uuid.UUID(value)).upper()
    except ValueError:
        return None


_SSN_RE = re.compile(r"[0-9]{9}|[0-9]{3}-[0-9]{2}-[0-9]{4}")


def normalize_ssn(ssn: str) -> str:
    """The 9 digits of an SSN written ``123456789`` or ``123-45-6789``; ``ValueError`` otherwise."""
    if _SSN_RE.fullmatch(ssn) is None:
        raise ValueError("not a 9-digit SSN")
    return ssn.replace("-", "")


def mint_otp_code() -> str:
    """A one-time code: ``OTP_CODE_DIGITS`` decimal digits, uniformly from the OS generator."""
    return f"{secrets.randbelow(10**OTP_CODE_DIGITS):0{OTP_CODE_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class ClientTokenClaims:
    """What a genuine client access token says (verified, but not yet checked for expiry)."""

    customer_session_id: str
    customer_id: str
    partner_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class _MasterKey:
    kid: str
    api_key_mac: bytes
    client_secret_mac: bytes
    client_token_mac: bytes
    otp_code_mac: bytes


class SecretBox:
    """Everything keyed by the deployment's master key(s). The first key mints; all verify."""

    def __init__(self, master_keys: list[bytes]) -> None:
        if not master_keys:
            raise ValueError("at least one master key is required")
        self._keys = [
            _MasterKey(
                key_id(k),
                _derive(k, "api-key"),
                _derive(k, "client-secret"),
                _derive(k, "client-token"),
                _derive(k, "otp-code"),
            )
            for k in master_keys
        ]
        self._by_kid = {k.kid: k for k in self._keys}
        self._webhook_macs = {key_id(k): _derive(k, "webhook-secret") for k in master_keys}
        self._ssn_macs = [_derive(k, "ssn") for k in master_keys]
        self._request_mac = _derive(master_keys[0], "idempotency-request")
        self._operator_macs = [_derive(k, "operator-credential") for k in master_keys]
        self._operator_session_macs = [_derive(k, "operator-session") for k in master_keys]
        self._csrf_mac = _derive(master_keys[0], "console-csrf")
        # A fixed decoy so that a missing or malformed credential costs the same work as a real one.
        self._decoy = mint_api_key("sandbox")

    @property
    def current_kid(self) -> str:
        return self._keys[0].kid

    def request_fingerprint(self, method: str, path: str, body: bytes) -> str:
        """What makes two requests "the same" for idempotency: a keyed HMAC of method, path and
        raw body. Keyed, because a body can hold a low-entropy secret (an SSN) that a plain hash
        stored in the database would let anyone brute-force."""
        mac = hmac.new(self._request_mac, f"{method} {path}\n".encode(), hashlib.sha256)
        mac.update(body)
        return mac.hexdigest()

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

    # -- operators (the console) -------------------------------------------------------------
    def operator_credential_hash(self, credential: str) -> str:
        """The stored form of a new operator credential (under the current master key)."""
        return _hmac_hex(self._operator_macs[0], credential)

    def operator_credential_lookup_hashes(self, credential: str | None) -> list[str]:
        """Every hash the credential may be stored under; a malformed one costs the same work
        and matches nothing."""
        return _lookup_hashes(self._operator_macs, credential, _OPERATOR_CREDENTIAL_RE, self._decoy)

    def operator_session_hash(self, token: str) -> str:
        """The stored form of a new console session token (under the current master key)."""
        return _hmac_hex(self._operator_session_macs[0], token)

    def operator_session_lookup_hashes(self, token: str | None) -> list[str]:
        """Every hash a console session token may be stored under (see above)."""
        return _lookup_hashes(self._operator_session_macs, token, _OPERATOR_SESSION_RE, self._decoy)

    def console_csrf_token(self, operator_session_id: str) -> str:
        """The form token of a console session: what every POST form of it must carry."""
        return _hmac_hex(self._csrf_mac, operator_session_id)

    def console_csrf_matches(self, operator_session_id: str, candidate: str | None) -> bool:
        """Whether ``candidate`` is the session's form token (constant time)."""
        expected = self.console_csrf_token(operator_session_id)
        return hmac.compare_digest(expected.encode(), (candidate or "").encode())

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
        raw = b""
        key = None
        if match is not None:
            key = self._by_kid.get(match.group(1))
            try:
                raw = _unb64(match.group(2))
            except (binascii.Error, ValueError):
                raw = b""
        if key is None or len(raw) != 48:
            # A malformed or unknown-key secret costs the same MAC as a genuine one.
            self._decoy_mac(self._keys[0].client_secret_mac)
            return None
        expected = hmac.new(key.client_secret_mac, raw[:16], hashlib.sha256).digest()
        if not hmac.compare_digest(expected, raw[16:]):
            return None
        return str(uuid.UUID(bytes=raw[:16])).upper()

    def _decoy_mac(self, mac_key: bytes) -> None:
        hmac.compare_digest(
            hmac.new(mac_key, self._decoy.encode(), hashlib.sha256).digest(), bytes(32)
        )

    # -- client access tokens ----------------------------------------------------------------
    def client_token(
        self, *, customer_session_id: str, customer_id: str, partner_id: str, expires_at: int
    ) -> str:
        """Mint a client access token under the current master key (nothing is stored)."""
        key = self._keys[0]
        payload = _TOKEN_PAYLOAD.pack(
            bytes.fromhex(key.kid),
            uuid.UUID(customer_session_id).bytes,
            uuid.UUID(customer_id).bytes,
            uuid.UUID(partner_id).bytes,
            expires_at,
        )
        mac = hmac.new(key.client_token_mac, payload, hashlib.sha256).digest()
        return CLIENT_TOKEN_PREFIX + _b64(payload + mac)

    def verify_client_token(self, candidate: str | None) -> ClientTokenClaims | None:
        """The claims of a genuine token (any configured master key), or None.

        Constant time in the MAC comparison; a malformed token costs the same MAC as a real one.
        Expiry is the caller's to check, against the service's clock.
        """
        match = _CLIENT_TOKEN_RE.fullmatch(candidate) if candidate else None
        raw = b""
        if match is not None:
            try:
                raw = _unb64(match.group(1))
            except (binascii.Error, ValueError):
                raw = b""
        size = _TOKEN_PAYLOAD.size
        key = self._by_kid.get(raw[:4].hex()) if len(raw) == size + 32 else None
        if key is None:
            self._decoy_mac(self._keys[0].client_token_mac)
            return None
        payload, mac = raw[:size], raw[size:]
        expected = hmac.new(key.client_token_mac, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, mac):
            return None
        _, session, customer, partner, expires_at = _TOKEN_PAYLOAD.unpack(payload)
        return ClientTokenClaims(
            customer_session_id=str(uuid.UUID(bytes=session)).upper(),
            customer_id=str(uuid.UUID(bytes=customer)).upper(),
            partner_id=str(uuid.UUID(bytes=partner)).upper(),
            expires_at=expires_at,
        )

    # -- one-time codes ----------------------------------------------------------------------
    def otp_code_hash(self, challenge_id: str, code: str) -> str:
        """The stored form of a one-time code: keyed, and bound to its challenge."""
        return self._otp_hash(self._keys[0], challenge_id, code)

    def otp_code_matches(self, challenge_id: str, code: str, stored_hash: str) -> bool:
        """Whether ``code`` is the challenge's code, under any configured master key."""
        found = False
        for key in self._keys:  # every key, always: the time does not depend on which matched
            found |= hmac.compare_digest(self._otp_hash(key, challenge_id, code), stored_hash)
        return found

    @staticmethod
    def _otp_hash(key: _MasterKey, challenge_id: str, code: str) -> str:
        message = f"{challenge_id}:{code}".encode()
        return hmac.new(key.otp_code_mac, message, hashlib.sha256).hexdigest()

    # -- social security numbers -------------------------------------------------------------
    # Only 10**9 SSNs exist, so an unkeyed hash would be a lookup table away from the plaintext;
    # the key lives outside the database. The partner id is mixed in so the same person's hash
    # differs between partners and rows cannot be linked across them.
    def ssn_hash(self, partner_id: str, ssn: str) -> str:
        """The stored form of a customer's SSN (under the current master key)."""
        return _ssn_mac(self._ssn_macs[0], partner_id, ssn)

    def ssn_lookup_hashes(self, partner_id: str, ssn: str) -> list[str]:
        """Every hash the SSN may be stored under (one per master key still configured)."""
        return [_ssn_mac(mac_key, partner_id, ssn) for mac_key in self._ssn_macs]

    # -- webhook signing secrets -------------------------------------------------------------
    def webhook_secret(self, endpoint_id: str, version: int, kid: str) -> str | None:
        """Re-derive version ``version`` of an endpoint's signing secret minted under ``kid``.

        None when that master key is no longer configured (the secret can no longer be made).
        """
        mac_key = self._webhook_macs.get(kid)
        if mac_key is None:
            return None
        message = uuid.UUID(endpoint_id).bytes + version.to_bytes(8, "big")
        raw = hmac.new(mac_key, message, hashlib.sha256).digest()
        return WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def _ssn_mac(mac_key: bytes, partner_id: str, ssn: str) -> str:
    message = f"{partner_id.upper()}|{normalize_ssn(ssn)}".encode()
    return hmac.new(mac_key, message, hashlib.sha256).hexdigest()


def _hmac_hex(mac_key: bytes, value: str) -> str:
    return hmac.new(mac_key, value.encode(), hashlib.sha256).hexdigest()


def _lookup_hashes(
    mac_keys: list[bytes], candidate: str | None, shape: re.Pattern[str], decoy: str
) -> list[str]:
    value = candidate if candidate is not None and shape.fullmatch(candidate) else None
    hashes = [_hmac_hex(mac_key, value or decoy) for mac_key in mac_keys]
    return hashes if value else [h[:-1] + "!" for h in hashes]  # never a stored (hex) hash
