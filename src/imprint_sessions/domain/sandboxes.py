"""Throwaway sandboxes: a fresh partner with its own key in one call, reset or deleted in one
more, so parallel test suites on one server never see each other's data.

A sandbox is a partner of its own (every id, list and webhook delivery is already scoped to
one), made by its parent: the partner whose key created it. The parent and the sandbox itself
may reset or delete it; to anyone else it does not exist (404, like another partner's
customer). A sandbox cannot make sandboxes of its own, so a leaked sandbox key cannot multiply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import SecretBox, canonical_id
from imprint_sessions.domain.partners import IssuedApiKey, create_api_key, create_partner
from imprint_sessions.errors import Conflict, Forbidden, PartnerNotFound, SandboxNotFound
from imprint_sessions.storage.records import Sandbox
from imprint_sessions.storage.repositories import Repositories

MAX_LIVE_SANDBOXES: Final = 100
"""Per parent: enough for a CI matrix run in parallel, a bound on what one key can make."""


@dataclass(frozen=True, slots=True)
class IssuedSandbox:
    """A sandbox as created: its key is shown this once."""

    sandbox: Sandbox
    key: IssuedApiKey


async def create_sandbox(
    repos: Repositories,
    *,
    clock: Clock,
    box: SecretBox,
    parent_id: str,
    name: str | None = None,
    test_clock_at: int | None = None,
) -> IssuedSandbox:
    """A new partner under ``parent_id``, with one API key, and a test clock showing
    ``test_clock_at`` if given (``domain/test_clocks.py``). Call inside a unit of work."""
    canonical = canonical_id(parent_id)
    if canonical is None or await repos.get_partner(canonical) is None:
        raise PartnerNotFound(parent_id)
    if await repos.get_sandbox(canonical) is not None:
        raise Forbidden("sandboxes: a throwaway sandbox cannot create sandboxes")
    if await repos.count_live_sandboxes(canonical) >= MAX_LIVE_SANDBOXES:
        raise Conflict(
            "SANDBOX_LIMIT_ERROR",
            f"A partner may have at most {MAX_LIVE_SANDBOXES} sandboxes; delete one first",
        )
    partner = await create_partner(
        repos, clock=clock, name=name or "Throwaway sandbox", merchant_keys=[]
    )
    await repos.mark_sandbox_of(partner.id, canonical, test_clock_at=test_clock_at)
    key = await create_api_key(repos, clock=clock, box=box, env="sandbox", partner_id=partner.id)
    sandbox = Sandbox(
        id=partner.id,
        name=partner.name,
        parent_id=canonical,
        created_at=partner.created_at,
        test_clock_at=test_clock_at,
    )
    return IssuedSandbox(sandbox=sandbox, key=key)


async def list_sandboxes(repos: Repositories, *, parent_id: str) -> list[Sandbox]:
    """The live sandboxes ``parent_id`` made, oldest first."""
    return await repos.list_sandboxes(parent_id)


async def answerable_sandbox(
    repos: Repositories, caller_id: str | None, sandbox_id: str
) -> Sandbox:
    """The sandbox, if ``caller_id`` (None: an operator) may manage it; else not found."""
    canonical = canonical_id(sandbox_id)
    sandbox = await repos.get_sandbox(canonical) if canonical else None
    if sandbox is None or caller_id not in (None, sandbox.parent_id, sandbox.id):
        raise SandboxNotFound(sandbox_id)
    return sandbox


async def reset_sandbox(repos: Repositories, *, caller_id: str | None, sandbox_id: str) -> Sandbox:
    """Delete every customer, session, application, payment method, webhook endpoint, event,
    delivery, idempotency key and test setting of the sandbox; its keys keep working."""
    sandbox = await answerable_sandbox(repos, caller_id, sandbox_id)
    await repos.wipe_partner_data(sandbox.id)
    return sandbox


async def delete_sandbox(
    repos: Repositories, *, clock: Clock, caller_id: str | None, sandbox_id: str
) -> str:
    """Reset the sandbox and revoke its keys (they stop working within a second); its id."""
    sandbox = await answerable_sandbox(repos, caller_id, sandbox_id)
    if not await repos.delete_sandbox(sandbox.id, now=clock.now_ms()):
        raise SandboxNotFound(sandbox_id)  # deleted by a concurrent request
    return sandbox.id
