"""Partners and their API keys: creation, listing, revocation, and the sandbox's first partner.

The admin CLI, the hosted demo shop and the partner API all come here; none of them asks the
store directly, so a rule written here holds for every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, canonical_id, mint_api_key, new_id
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain.origins import LOCAL_HOSTS, normalise_origin
from imprint_sessions.errors import ApiKeyConflict, ApiKeyNotFound, InvalidRequest
from imprint_sessions.storage.records import ApiKey, AuditContext, Partner, Principal
from imprint_sessions.storage.repositories import Repositories

SANDBOX_PARTNER_NAME = "Sandbox partner"
MAX_MERCHANT_KEY_CHARS = 100
MAX_LOGO_URL_CHARS = 2048
LOGO_URL_RULE = (
    f"logo_url: must be an absolute https:// URL of at most {MAX_LOGO_URL_CHARS} characters, "
    "without user name or password (http:// only for localhost)"
)


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A key as created: the only moment the plaintext exists outside the caller's hands."""

    record: ApiKey
    api_key: str


def is_valid_logo_url(value: str) -> bool:
    """Whether ``value`` may go to a native SDK as ``logoUrl``: the device fetches it, so it is
    an absolute ``https`` URL (``http`` only for a local development host) with no credentials,
    whitespace or control characters."""
    if not value or len(value) > MAX_LOGO_URL_CHARS or not value.isprintable() or " " in value:
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOCAL_HOSTS)


async def set_logo_url(
    repos: Repositories, *, partner_id: str, logo_url: str | None
) -> Partner | None:
    """Set (or, with None or "", clear) the logo the native SDKs show for this partner; None if
    there is no such partner."""
    if logo_url and not is_valid_logo_url(logo_url):
        raise InvalidRequest(LOGO_URL_RULE)
    return await repos.set_partner_logo_url(partner_id, logo_url or None)


async def create_partner(
    repos: Repositories,
    *,
    clock: Clock,
    name: str,
    merchant_keys: list[str],
    allowed_origins: list[str] | None = None,
    logo_url: str | None = None,
) -> Partner:
    """``allowed_origins`` (browser origins that may call the client API) must each be
    ``scheme://host[:port]`` with no path; they are stored as browsers spell them. ``logo_url``:
    see ``is_valid_logo_url``."""
    name = name.strip()
    problems = []
    if logo_url and not is_valid_logo_url(logo_url):
        problems.append(LOGO_URL_RULE)
    origins = [normalise_origin(origin) for origin in allowed_origins or []]
    if any(origin is None for origin in origins):
        problems.append("allowed_origins: each must be http(s)://host[:port], with no path")
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
        id=new_id(),
        name=name,
        merchant_keys=tuple(merchant_keys),
        created_at=clock.now_ms(),
        allowed_origins=tuple(dict.fromkeys(o for o in origins if o is not None)),
        logo_url=logo_url or None,
    )
    await repos.create_partner(partner)
    return partner


async def list_partners(repos: Repositories) -> list[Partner]:
    """Every partner, oldest first."""
    return await repos.list_partners()


async def get_partner(repos: Repositories, *, partner_id: str) -> Partner | None:
    """The partner with this id (in any spelling of the UUID); None if there is none."""
    canonical = canonical_id(partner_id)
    return await repos.get_partner(canonical) if canonical else None


async def sandbox_partner(repos: Repositories, *, clock: Clock) -> Partner:
    """The partner ``serve`` creates on a sandbox's first start (created now if a database lacks
    it): the demo shop's sessions belong to it."""
    for partner in await repos.list_partners():
        if partner.name == SANDBOX_PARTNER_NAME:
            return partner
    return await create_partner(repos, clock=clock, name=SANDBOX_PARTNER_NAME, merchant_keys=[])


async def bootstrap_sandbox(
    repos: Repositories, *, clock: Clock, box: SecretBox
) -> IssuedApiKey | None:
    """On a database with no partner yet, the sandbox partner and its first key (the key, shown
    once); None when there is a partner already (nothing is created)."""
    if await repos.list_partners():
        return None
    partner = await create_partner(repos, clock=clock, name=SANDBOX_PARTNER_NAME, merchant_keys=[])
    return await create_api_key(repos, clock=clock, box=box, env="sandbox", partner_id=partner.id)


async def create_api_key(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    env: str,
    partner_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> IssuedApiKey:
    """A new key for the partner, recorded as ``api_key.created`` by ``audit``'s actor."""
    api_key = mint_api_key(env)
    record = ApiKey(
        id=new_id(),
        partner_id=partner_id,
        # Enough to recognise a key in a list, far too little to guess it (4 of 43 random chars).
        display_prefix=api_key[: api_key.index("_", 4) + 5],
        created_at=clock.now_ms(),
        revoked_at=None,
    )
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.API_KEY_CREATED,
        object_type="api_key",
        object_id=record.id,
        at=record.created_at,
        partner_id=partner_id,
        details={"display_prefix": record.display_prefix},
    )
    await repos.create_api_key(
        record, key_hash=box.api_key_hash(api_key), secret_key_id=box.current_kid, audit=entry
    )
    return IssuedApiKey(record=record, api_key=api_key)


async def list_api_keys(repos: Repositories, *, partner_id: str) -> list[ApiKey]:
    """A partner's keys, oldest first, revoked ones included (records: no key is ever stored)."""
    canonical = canonical_id(partner_id)
    return await repos.list_api_keys(canonical) if canonical else []


async def revoke_api_key(
    repos: Repositories,
    *,
    clock: Clock,
    api_key_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> bool:
    """An operator revokes any partner's active key (the admin CLI); False when there is no such
    active key. The id is read as ``delete_partner_api_key`` reads it.

    Unlike a partner deleting its own keys, an operator may revoke a partner's last active key:
    that is how a leaked key is stopped at once, or a partner cut off, and a new key is one
    ``keys create`` away (a partner could not make one without a key).
    """
    canonical = canonical_id(api_key_id)
    if canonical is None:
        return False
    now = clock.now_ms()
    entry = audit_trail.new_event(
        audit, type=audit_trail.API_KEY_REVOKED, object_type="api_key", object_id=canonical, at=now
    )
    return await repos.revoke_api_key(canonical, at=now, audit=entry)


# -- a partner managing its own keys through the API (POST and DELETE /v2/keys) -----------------

MAX_ACTIVE_API_KEYS = 20
"""Enough to rotate keys across many services; a bound on what a leaked key can mint."""


async def create_partner_api_key(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    env: str,
    principal: Principal,
    audit: AuditContext = audit_trail.SYSTEM,
) -> IssuedApiKey:
    """A new key for the caller's partner, with the same permissions (all of the partner's).

    Call inside a unit of work: the partner's keys are locked so the limit holds under races.
    """
    active = await repos.lock_partner_api_keys(principal.partner_id)
    if active >= MAX_ACTIVE_API_KEYS:
        raise ApiKeyConflict(
            f"a partner may have at most {MAX_ACTIVE_API_KEYS} active keys; delete one first"
        )
    return await create_api_key(
        repos, clock=clock, box=box, env=env, partner_id=principal.partner_id, audit=audit
    )


async def delete_partner_api_key(
    repos: Repositories,
    *,
    clock: Clock,
    principal: Principal,
    api_key_id: str,
    audit: AuditContext = audit_trail.SYSTEM,
) -> ApiKey:
    """Revoke one of the caller's partner's active keys (the calling key included).

    The partner's last active key cannot be deleted: that would lock the partner out of the API
    (create another first). Call inside a unit of work: a refusal rolls the revocation back.
    """
    canonical = canonical_id(api_key_id)
    if canonical is None:
        raise ApiKeyNotFound(api_key_id)
    active = await repos.lock_partner_api_keys(principal.partner_id)
    now = clock.now_ms()
    entry = audit_trail.new_event(
        audit,
        type=audit_trail.API_KEY_REVOKED,
        object_type="api_key",
        object_id=canonical,
        at=now,
        partner_id=principal.partner_id,
    )
    # Refused below (the last key): the unit of work rolls the revocation back, its entry too.
    revoked = await repos.revoke_partner_api_key(
        principal.partner_id, canonical, now=now, audit=entry
    )
    if revoked is None:
        raise ApiKeyNotFound(api_key_id)
    if active <= 1:
        raise ApiKeyConflict("this is the partner's last active key; create another first")
    return revoked
