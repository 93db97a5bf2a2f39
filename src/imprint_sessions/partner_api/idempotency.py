"""The ``Idempotency-Key`` header, for every partner-API POST.

A route takes the ``Idempotency`` dependency and runs its work through it::

    async def create_thing(..., idempotency: Idempotency) -> Response:
        async def create(repos: Repositories) -> Response:
            ...  # validate the body, call the domain with ``repos``, build the response
        return await idempotency.run(create)

Without the header, ``run`` just awaits the work on the autocommit repositories (no extra
database round trip). With it, the key is claimed first; the work runs in a unit of work that
also records its response, so the effect and the record commit together; a retry gets the
recorded response with ``Idempotent-Replayed: true``. The rules are in ``domain/idempotency.py``.
List ``**IDEMPOTENT_RESPONSES`` in the route's ``responses`` to document the 409 and 422.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import WithJsonSchema

from imprint_sessions.deps import Svc
from imprint_sessions.domain import idempotency
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.services import Services
from imprint_sessions.storage.records import Principal
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.wire.partner import ConflictError, InvalidRequestError

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Recomputed for every response, or the middleware's to add.
_NOT_RECORDED = frozenset({"content-length", "request-id"})

Work = Callable[[Repositories], Awaitable[Response]]

IDEMPOTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            REPLAYED_HEADER: {
                "description": "`true` when this is the recorded response to an earlier request "
                "with the same Idempotency-Key",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    },
    409: {
        "description": "A request with the same Idempotency-Key is still being processed "
        "(`IDEMPOTENCY_KEY_IN_USE`); retry it later",
        "model": ConflictError,
    },
    422: {
        "description": "The Idempotency-Key was already used with a different request body",
        "model": InvalidRequestError,
    },
}


def refuse_idempotency_key(request: Request, shown_once: str) -> None:
    """For a route whose response shows a credential once: a recorded response would have to
    keep it, so an ``Idempotency-Key`` is refused (400) rather than silently ignored."""
    if request.headers.get(IDEMPOTENCY_KEY_HEADER) is not None:
        raise InvalidRequest(
            f"idempotency-key: not accepted here: {shown_once} is shown once and never stored, "
            "so its response cannot be replayed"
        )


class Idempotent:
    """One request's idempotency: ``run`` its work once per key, or replay the recorded result."""

    __slots__ = ("_key", "_principal", "_request", "_services")

    def __init__(
        self, request: Request, services: Services, principal: Principal, key: str | None
    ) -> None:
        self._request = request
        self._services = services
        self._principal = principal
        self._key = key

    async def run(self, work: Work) -> Response:
        services = self._services
        if self._key is None:
            return await work(services.database.repositories)
        request = self._request
        try:
            outcome = await idempotency.claim(
                services.database.repositories,
                clock=services.clock,
                box=services.box,
                partner_id=self._principal.partner_id,
                key=self._key,
                request_hash=services.box.request_fingerprint(
                    request.method, request.url.path, await request.body()
                ),
                ttl_seconds=services.settings.idempotency_ttl_seconds,
            )
        except idempotency.ClaimUncertain as exc:
            release_later(services.database.repositories, exc.claim)
            raise
        if isinstance(outcome, idempotency.Replay):
            response = Response(outcome.body, status_code=outcome.status)
            for name, value in outcome.headers:
                response.headers[name] = value
            response.headers[REPLAYED_HEADER] = "true"
            return response
        return await self._run_once(outcome, work)

    async def _run_once(self, taken: idempotency.Claim, work: Work) -> Response:
        services = self._services
        try:
            async with services.database.unit_of_work() as uow:
                response = await work(uow.repositories)
                if 200 <= response.status_code < 300:
                    await idempotency.complete(
                        uow.repositories,
                        taken,
                        box=services.box,
                        status=response.status_code,
                        headers=[
                            (name, value)
                            for name, value in response.headers.items()
                            if name not in _NOT_RECORDED
                        ],
                        body=bytes(response.body),
                    )
                    await uow.commit()
                    return response
        except BaseException:
            await self._release(taken)
            raise
        await self._release(taken)  # an error response: nothing was written
        return response

    async def _release(self, taken: idempotency.Claim) -> None:
        repos = self._services.database.repositories
        try:
            async with asyncio.timeout(RELEASE_WAIT_SECONDS):
                await idempotency.release(repos, taken)
        except Exception:
            # The database is away: answer now, and keep trying in the background, or a retry
            # would get 409 until the claim's lease lapses, long after the database is back.
            log.warning("could not release an idempotency key yet; retrying", exc_info=True)
            release_later(repos, taken)


# A failed request frees its key before answering if the database answers within this long.
# Otherwise (an outage) the release is retried in the background, every RELEASE_RETRY_SECONDS,
# until it has gone through RELEASE_CONFIRMATIONS times: a claim or a COMMIT the database received
# before the outage may still land just after it (a completed record is never released).
RELEASE_WAIT_SECONDS = 1.0
RELEASE_RETRY_SECONDS = 1.0
RELEASE_CONFIRMATIONS = 3
_RELEASES: set[asyncio.Task[None]] = set()  # strong references to the pending releases


def release_later(repos: Repositories, taken: idempotency.Claim) -> None:
    """Release ``taken`` in the background once the database answers again (see above)."""
    task = asyncio.create_task(_release_when_back(repos, taken))
    _RELEASES.add(task)
    task.add_done_callback(_RELEASES.discard)


async def _release_when_back(repos: Repositories, taken: idempotency.Claim) -> None:
    deadline = time.monotonic() + idempotency.IN_FLIGHT_LEASE_MS / 1000
    confirmations = 0
    while confirmations < RELEASE_CONFIRMATIONS and time.monotonic() < deadline:
        await asyncio.sleep(RELEASE_RETRY_SECONDS)
        try:
            await idempotency.release(repos, taken)
        except Exception:  # noqa: S112 - still away: try again, quietly
            continue
        confirmations += 1
    if confirmations:
        log.info("released an idempotency key after the database came back")
    else:
        log.warning("could not release an idempotency key; its lease has freed it")


async def idempotent(
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    idempotency_key: Annotated[
        str | None,
        WithJsonSchema(
            {
                "type": "string",
                "minLength": 1,
                "maxLength": idempotency.MAX_KEY_LENGTH,
                "pattern": idempotency.KEY_PATTERN,
            }
        ),
        Header(
            alias=IDEMPOTENCY_KEY_HEADER,
            description=(
                "Makes this POST safe to retry: a unique key of 1 to 255 printable ASCII "
                "characters (a V4 UUID, say). The same key with the same body within 24 hours "
                "returns the first response again, with `Idempotent-Replayed: true`; with a "
                "different body it is a 422; while the first request is still being processed, "
                "a 409. Keys are scoped to your account. Only successful responses are "
                "recorded: after an error the key may be used again."
            ),
        ),
    ] = None,
) -> Idempotent:
    """The request's ``Idempotent`` runner; a malformed key is a 400 before anything runs."""
    key = idempotency.check_key(idempotency_key) if idempotency_key is not None else None
    return Idempotent(request, services, principal, key)


Idempotency = Annotated[Idempotent, Depends(idempotent)]
