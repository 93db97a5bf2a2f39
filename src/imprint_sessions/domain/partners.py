"""Partners and their API keys: creation, revocation, and the sandbox's first partner."""

from __future__ import annotations

from dataclasses import dataclass

from imprint_sessions.clock import Clock
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.secrets import SecretBox, mint_api_key, new_id
from imprint_sessions.storage.records import ApiKey, Partner
from imprint_sessions.storage.repositories import Repositories

SANDBOX_PARTNER_NAME = "Sandbox partner"
MAX_MERCHANT_KEY_CHARS = 100


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A key as created: the only moment the plaintext exists outside the caller's hands."""

    record: ApiKey
    api_key: str


async def create_partner(
    repos: Repositories, *, clock: Clock, name: str, merchant_keys: list[str]
) -> Partner:
    name = name.strip()
    problems = []
    if not name or len(name) > 200:
        problems.append("name: must be 1 to 200 characters")
    if len(set(merchant_keys)) != len(merchant_keys):
        problems.append("merchant_keys: must not repeat")
    if any(not k or len(k) > MAX_MERCHANT_KEY_CHARS or not k.isprintable() for k in merchant_keys):
        problems.append(
            f"merchant_keys: each must be 1 to {MAX_MERCHANT_KEY_CHARS} printable characters"
        )
    if problems:
        raise InvalidRequest(*problems)
    partner = Partner(
        id=new_id(), name=name, merchant_keys=tuple(merchant_keys), created_at=clock.now_ms()
    )
    await repos.create_partner(partner)
    return partner


async def create_api_key(
    repos: Repositories, *, clock: Clock, box: SecretBox, env: str, partner_id: str
) -> IssuedApiKey:
    api_key = mint_api_key(env)
    record = ApiKey(
        id=new_id(),
        partner_id=partner_id,
        # Enough to recognise a key in a list, far too little to guess it (4 of 43 random chars).
        display_prefix=api_key[: api_key.index("_", 4) + 5],
        created_at=clock.now_ms(),
        revoked_at=None,
    )
    await repos.create_api_key(
        record, key_hash=box.api_key_hash(api_key), secret_key_id=box.current_kid
    )
    return IssuedApiKey(record=record, api_key=api_key)
