"""Sandbox test faults: what a partner may declare should go wrong, and the per-process index
that keeps checking for them free when nothing is declared.

A fault belongs to one partner and applies only to that partner's own traffic:

- ``error``: the operation answers ``status`` (429, 500 or 503; 429 and 503 with
  ``Retry-After: retry_after``) instead of running, after ``delay_ms`` if given;
- ``delay``: the operation runs ``delay_ms`` late;
- ``drop``: the connection is closed without an answer (after ``delay_ms`` if given);
- ``webhook_failure``: a delivery attempt to the partner's endpoint ``endpoint_id`` fails without
  being sent; the worker records it and retries on the usual schedule;
- ``hosted_outcome``: the hosted page ends its next start with ``outcome`` (``IN_PROGRESS`` or
  ``ERROR:<error_code>``).

Each applies to the next ``times`` requests, attempts or starts (default 1), or until deleted.
Consuming a use is atomic in the database (``FaultRepository``), so processes sharing it never
give out more uses than were declared. The surfaces decide only where a fault is looked for and
what answering it means on the wire (``fault_injection.py``); the rules are here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from imprint_sessions.clock import Clock
from imprint_sessions.credentials import canonical_id, new_id
from imprint_sessions.errors import FaultNotFound, InvalidRequest, WebhookEndpointNotFound
from imprint_sessions.storage.records import Fault, FaultTarget
from imprint_sessions.storage.repositories import Repositories

ERROR: Final = "error"
DELAY: Final = "delay"
DROP: Final = "drop"
WEBHOOK_FAILURE: Final = "webhook_failure"
HOSTED_OUTCOME: Final = "hosted_outcome"
KINDS: Final = (ERROR, DELAY, DROP, WEBHOOK_FAILURE, HOSTED_OUTCOME)
OPERATION_KINDS: Final = frozenset({ERROR, DELAY, DROP})

STATUSES: Final = (429, 500, 503)
RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
DEFAULT_RETRY_AFTER_SECONDS: Final = 1
MAX_RETRY_AFTER_SECONDS: Final = 3600
MAX_DELAY_MS: Final = 30_000
MAX_TIMES: Final = 1000
MAX_FAULTS_PER_PARTNER: Final = 100

# The hosted page's documented ERROR codes (README, "What the hosted page reports").
ERROR_CODES: Final = (
    "INVALID_CLIENT_SECRET",
    "NETWORK_CONNECTION_FAILED",
    "SERVER_ERROR",
    "TIMEOUT_ERROR",
    "UNKNOWN_ERROR",
)
IN_PROGRESS: Final = "IN_PROGRESS"
OUTCOMES: Final = (IN_PROGRESS, *(f"ERROR:{code}" for code in ERROR_CODES))

EXCHANGE_OPERATION: Final = "exchangeClientSecret"
# Every operation a fault may name: each authenticated operation of both APIs (the test helpers
# themselves aside, so a fault can always be deleted). Each declares 400, 429, 500 and 503 in
# the sandbox's served spec (tests/contract/test_test_helpers_openapi.py).
FAULTABLE_OPERATIONS: Final = frozenset(
    {
        # partner API
        "createSession",
        "getSession",
        "listCustomerSessions",
        "expireSession",
        "listCustomers",
        "searchCustomers",
        "getCustomer",
        "updateCustomer",
        "listPaymentMethods",
        "getPaymentMethod",
        "createKey",
        "deleteKey",
        "createWebhookEndpoint",
        "listWebhookEndpoints",
        "disableWebhookEndpoint",
        "deleteWebhookEndpoint",
        "rotateWebhookSecret",
        "listWebhookEvents",
        "listWebhookEventDeliveries",
        "replayWebhookDelivery",
        "simulateApplication",
        "listAuditEvents",
        # client API
        EXCHANGE_OPERATION,
        "getClientSession",
        "getClientProfile",
        "updateClientProfile",
        "startPhoneVerification",
        "confirmPhoneVerification",
        "createClientApplication",
        "getCurrentClientApplication",
        "acceptClientApplicationOffer",
        "listClientPaymentMethods",
        "lockClientPaymentMethod",
        "unlockClientPaymentMethod",
    }
)


# -- what a fault does ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FaultAction:
    """What to do to one request: wait ``delay_ms``, then answer ``status``, drop the
    connection, or (neither) let the request run."""

    delay_ms: int = 0
    status: int | None = None
    retry_after: int | None = None
    drop: bool = False
    fault_id: str | None = None  # None: asked for by the request's own header


def action_of(fault: Fault) -> FaultAction:
    return FaultAction(
        delay_ms=fault.delay_ms or 0,
        status=fault.status if fault.kind == ERROR else None,
        retry_after=fault.retry_after,
        drop=fault.kind == DROP,
        fault_id=fault.id,
    )


def outcome_problem(outcome: str) -> str | None:
    """Why ``outcome`` is not a hosted-page outcome a fault can force (None when it is)."""
    if outcome in OUTCOMES:
        return None
    return f"must be {IN_PROGRESS} or ERROR:<code>, the code one of {', '.join(ERROR_CODES)}"


# -- declaring ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class FaultDeclaration:
    """A fault as the API or the CLI asks for it (None: not given)."""

    kind: str
    operation: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay_ms: int | None = None
    endpoint_id: str | None = None
    outcome: str | None = None
    times: int | None = None
    until_deleted: bool | None = None


# The fields each kind takes, required and optional (the rest must be left out).
_FIELDS: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    ERROR: (frozenset({"operation", "status"}), frozenset({"retry_after", "delay_ms"})),
    DELAY: (frozenset({"operation", "delay_ms"}), frozenset()),
    DROP: (frozenset({"operation"}), frozenset({"delay_ms"})),
    WEBHOOK_FAILURE: (frozenset({"endpoint_id"}), frozenset()),
    HOSTED_OUTCOME: (frozenset({"outcome"}), frozenset()),
}
_KIND_FIELDS: Final = ("operation", "status", "retry_after", "delay_ms", "endpoint_id", "outcome")


def _problems(declared: FaultDeclaration) -> list[str]:
    if declared.kind not in _FIELDS:
        return [f"kind: must be one of {', '.join(KINDS)}"]
    required, optional = _FIELDS[declared.kind]
    problems = []
    for name in _KIND_FIELDS:
        given = getattr(declared, name) is not None
        if name in required and not given:
            problems.append(f"{name}: required with kind {declared.kind}")
        elif given and name not in required | optional:
            problems.append(f"{name}: not taken by kind {declared.kind}")
    operation, status = declared.operation, declared.status
    if operation is not None and operation not in FAULTABLE_OPERATIONS:
        problems.append("operation: must be the operationId of an operation of either API")
    if status is not None and status not in STATUSES:
        problems.append(f"status: must be one of {', '.join(map(str, STATUSES))}")
    if declared.retry_after is not None:
        if status is not None and status not in RETRY_AFTER_STATUSES:
            problems.append("retry_after: only with status 429 or 503")
        if not 1 <= declared.retry_after <= MAX_RETRY_AFTER_SECONDS:
            problems.append(f"retry_after: must be 1 to {MAX_RETRY_AFTER_SECONDS} seconds")
    if declared.delay_ms is not None and not 1 <= declared.delay_ms <= MAX_DELAY_MS:
        problems.append(f"delay_ms: must be 1 to {MAX_DELAY_MS}")
    if declared.outcome is not None and (problem := outcome_problem(declared.outcome)):
        problems.append(f"outcome: {problem}")
    if declared.times is not None and not 1 <= declared.times <= MAX_TIMES:
        problems.append(f"times: must be 1 to {MAX_TIMES}")
    if declared.until_deleted and declared.times is not None:
        problems.append("times: not with until_deleted (it applies until you delete it)")
    return problems


async def declare_fault(
    repos: Repositories,
    *,
    clock: Clock,
    partner_id: str,
    declaration: FaultDeclaration,
    index: FaultIndex | None = None,
) -> Fault:
    """Store a fault for the partner; every problem with it is listed in one 400. A webhook
    endpoint must be one of the partner's (404 otherwise). ``index``: this process's, which
    then sees the fault at once (other processes within ``FaultIndex.ttl_seconds``)."""
    problems = _problems(declaration)
    if problems:
        raise InvalidRequest(*problems)
    endpoint_id = None
    if declaration.endpoint_id is not None:
        endpoint_id = canonical_id(declaration.endpoint_id)
        endpoint = (
            await repos.get_webhook_endpoint(endpoint_id, partner_id=partner_id)
            if endpoint_id
            else None
        )
        if endpoint is None:
            raise WebhookEndpointNotFound(declaration.endpoint_id)
    if len(await repos.list_faults(partner_id)) >= MAX_FAULTS_PER_PARTNER:
        raise InvalidRequest(
            f"faults: at most {MAX_FAULTS_PER_PARTNER} per partner, used-up ones included; "
            "delete some first"
        )
    times = None if declaration.until_deleted else (declaration.times or 1)
    retry_after = declaration.retry_after
    if declaration.status in RETRY_AFTER_STATUSES and retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER_SECONDS
    fault = Fault(
        id=new_id(),
        partner_id=partner_id,
        kind=declaration.kind,
        operation=declaration.operation,
        status=declaration.status,
        retry_after=retry_after,
        delay_ms=declaration.delay_ms,
        endpoint_id=endpoint_id,
        outcome=declaration.outcome,
        times=times,
        remaining=times,
        created_at=clock.now_ms(),
    )
    await repos.insert_fault(fault)
    if index is not None:
        index.invalidate()
    return fault


async def list_faults(repos: Repositories, *, partner_id: str) -> list[Fault]:
    """The partner's faults, oldest first; used-up ones stay listed (``remaining`` 0) until
    deleted, so a test can see that each was used (at most ``MAX_FAULTS_PER_PARTNER``)."""
    return await repos.list_faults(partner_id)


async def delete_fault(
    repos: Repositories, *, partner_id: str, fault_id: str, index: FaultIndex | None = None
) -> Fault:
    """Delete one of the partner's faults (404 for anyone else's, as for a missing one)."""
    canonical = canonical_id(fault_id)
    deleted = await repos.delete_fault(partner_id, canonical) if canonical else None
    if deleted is None:
        raise FaultNotFound(fault_id)
    if index is not None:
        index.invalidate()
    return deleted


# -- finding them, cheaply ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FaultTargets:
    """Who has live faults, and on what: a snapshot of the whole database's."""

    operations: Mapping[str, frozenset[str]] = field(default_factory=dict)  # partner -> ops
    hosted: frozenset[str] = frozenset()  # partners with a hosted-page outcome
    endpoints: frozenset[str] = frozenset()  # endpoints with forced failures
    exchange: bool = False  # whether any partner has a fault on the exchange

    @classmethod
    def of(cls, targets: list[FaultTarget]) -> FaultTargets:
        operations: dict[str, set[str]] = {}
        for target in targets:
            if target.kind in OPERATION_KINDS and target.operation:
                operations.setdefault(target.partner_id, set()).add(target.operation)
        return cls(
            operations={partner: frozenset(ops) for partner, ops in operations.items()},
            hosted=frozenset(t.partner_id for t in targets if t.kind == HOSTED_OUTCOME),
            endpoints=frozenset(
                t.endpoint_id for t in targets if t.kind == WEBHOOK_FAILURE and t.endpoint_id
            ),
            exchange=any(EXCHANGE_OPERATION in ops for ops in operations.values()),
        )


class FaultIndex:
    """This process's view of which partners have live faults, re-read at most once every
    ``ttl_seconds`` (one small query, shared by every request waiting for it).

    A request of a partner the index does not name costs a dictionary lookup and no query; only
    a partner with a matching fault pays the statement that takes a use. A fault declared or
    deleted through this process is seen at once (``invalidate``); one declared through another
    process (or the CLI), within ``ttl_seconds``.
    """

    def __init__(
        self, *, ttl_seconds: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._targets = FaultTargets()
        self._fresh_until = float("-inf")
        self._refreshing: asyncio.Future[FaultTargets] | None = None

    def current(self) -> FaultTargets | None:
        """The snapshot, if fresh enough to use without asking the database."""
        return self._targets if self._monotonic() < self._fresh_until else None

    def invalidate(self) -> None:
        self._fresh_until = float("-inf")

    async def targets(self, repos: Repositories) -> FaultTargets:
        current = self.current()
        if current is not None:
            return current
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh(repos))
        refreshing = self._refreshing
        try:
            return await asyncio.shield(refreshing)
        finally:
            if self._refreshing is refreshing and refreshing.done():
                self._refreshing = None

    async def _refresh(self, repos: Repositories) -> FaultTargets:
        started = self._monotonic()
        targets = FaultTargets.of(await repos.list_fault_targets())
        self._targets = targets
        self._fresh_until = started + self.ttl_seconds
        return targets


async def _consume(
    index: FaultIndex,
    repos: Repositories,
    applies: Callable[[FaultTargets], bool],
    take: Callable[[], Awaitable[Fault | None]],
) -> Fault | None:
    targets = index.current() or await index.targets(repos)
    return await take() if applies(targets) else None


async def consume_operation_fault(
    repos: Repositories, index: FaultIndex, *, partner_id: str, operation: str
) -> Fault | None:
    """One use of the partner's oldest live fault on ``operation``; None when it has none."""
    return await _consume(
        index,
        repos,
        lambda t: operation in t.operations.get(partner_id, ()),
        lambda: repos.consume_operation_fault(partner_id, operation),
    )


async def consume_exchange_fault(
    repos: Repositories, index: FaultIndex, *, customer_session_id: str
) -> Fault | None:
    """The same for the exchange, whose caller is known only by the secret's session: the
    session's partner is read in the statement that takes the use, and only while some partner
    has an exchange fault at all (otherwise no statement runs)."""
    return await _consume(
        index,
        repos,
        lambda t: t.exchange,
        lambda: repos.consume_session_fault(customer_session_id, EXCHANGE_OPERATION),
    )


async def consume_hosted_outcome(
    repos: Repositories, index: FaultIndex, *, partner_id: str
) -> str | None:
    """The outcome the partner's next hosted-page start must end with, if one was declared."""
    fault = await _consume(
        index,
        repos,
        lambda t: partner_id in t.hosted,
        lambda: repos.consume_hosted_fault(partner_id),
    )
    return fault.outcome if fault is not None else None


async def consume_webhook_failure(
    repos: Repositories, index: FaultIndex, *, endpoint_id: str
) -> Fault | None:
    """A forced failure for the next delivery attempt to ``endpoint_id``, if one was declared."""
    return await _consume(
        index,
        repos,
        lambda t: endpoint_id in t.endpoints,
        lambda: repos.consume_endpoint_fault(endpoint_id),
    )
