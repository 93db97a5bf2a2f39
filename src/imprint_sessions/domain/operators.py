"""The console's operators: created by the admin CLI with a credential shown once, and their
logins (a session token in a cookie, stored only as a keyed hash, revoked at logout).

Operators belong to the deployment, not to a partner: a sandbox reset or delete never touches
them. An operator sees every partner's account in the console; what they change there (a key
revoked, a delivery replayed) is written to that partner's audit trail as ``actor_type``
``operator`` (``audit.console_operator_actor``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import (
    SecretBox,
    canonical_id,
    mint_operator_credential,
    mint_operator_session_token,
    new_id,
)
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.records import Operator, OperatorSession
from imprint_sessions.storage.repositories import Repositories

MAX_NAME_CHARS = 100
NAME_RULE = f"name: must be 1 to {MAX_NAME_CHARS} printable characters"
DEFAULT_SESSION_SECONDS = 8 * 3600
"""How long a console login lasts (absolute, from the login): a working day."""


@dataclass(frozen=True, slots=True)
class IssuedOperator:
    """An operator as created: the only moment the credential exists outside the caller's hands."""

    record: Operator
    credential: str


@dataclass(frozen=True, slots=True)
class IssuedLogin:
    """A console login as made: the token goes into the cookie, only its hash is stored."""

    session: OperatorSession
    token: str


def _checked_name(name: str) -> str:
    cleaned = name.strip()
    printable = all(unicodedata.category(ch)[0] != "C" for ch in cleaned)
    if not cleaned or len(cleaned) > MAX_NAME_CHARS or not printable:
        raise InvalidRequest(NAME_RULE)
    return cleaned


async def create_operator(
    repos: Repositories, *, clock: Clock, box: SecretBox, name: str
) -> IssuedOperator:
    """A new operator and their credential (printed once by the CLI; stored as a keyed hash)."""
    credential = mint_operator_credential()
    record = Operator(
        id=new_id(),
        name=_checked_name(name),
        # Enough to tell credentials apart in a list, far too little to guess one (4 of 43).
        display_prefix=credential[:8],
        created_at=clock.now_ms(),
        revoked_at=None,
    )
    await repos.create_operator(
        record,
        credential_hash=box.operator_credential_hash(credential),
        secret_key_id=box.current_kid,
    )
    return IssuedOperator(record=record, credential=credential)


async def list_operators(repos: Repositories) -> list[Operator]:
    """Every operator, oldest first, revoked ones included."""
    return await repos.list_operators()


async def revoke_operator(
    repos: Repositories, *, clock: Clock, operator_id: str
) -> Operator | None:
    """Revoke an operator: their credential stops working and every login of theirs ends at
    once. None when there is no such active operator."""
    canonical = canonical_id(operator_id)
    if canonical is None:
        return None
    return await repos.revoke_operator(canonical, now=clock.now_ms())


async def log_in(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    credential: str | None,
    lifetime_seconds: int = DEFAULT_SESSION_SECONDS,
) -> IssuedLogin | None:
    """A new console login for the operator ``credential`` names; None for anything else (a
    malformed, unknown or revoked credential: the same answer and the same work)."""
    operator = await repos.find_operator_by_credential_hashes(
        box.operator_credential_lookup_hashes(credential)
    )
    if operator is None:
        return None
    now = clock.now_ms()
    token = mint_operator_session_token()
    session = OperatorSession(
        id=new_id(),
        operator_id=operator.id,
        operator_name=operator.name,
        created_at=now,
        expires_at=now + lifetime_seconds * 1000,
    )
    await repos.create_operator_session(session, token_hash=box.operator_session_hash(token))
    return IssuedLogin(session=session, token=token)


async def session_of_token(
    repos: Repositories, *, clock: Clock, box: SecretBox, token: str | None
) -> OperatorSession | None:
    """The live login a cookie's token names (not expired, not logged out, its operator not
    revoked), or None."""
    return await repos.find_operator_session(
        box.operator_session_lookup_hashes(token), now=clock.now_ms()
    )


async def log_out(repos: Repositories, *, clock: Clock, session: OperatorSession) -> None:
    """End a login: its token no longer opens the console, on any server."""
    await repos.revoke_operator_session(session.id, now=clock.now_ms())
