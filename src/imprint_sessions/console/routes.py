"""The operator console's routes, under ``/console``: sign in with an operator credential
(``imprint-sessions operators create``), pick a partner, read its sessions, customers,
applications, webhook deliveries, keys and audit trail, revoke a key, replay a delivery.

Security decisions, in one place:

- A login is a row of ``operator_sessions`` (the cookie holds its token, the row a keyed hash),
  so logout, or revoking the operator, ends it on every server at once. The cookie is
  HttpOnly, SameSite=Strict, ``Secure`` when the service is reached by https, scoped to
  ``/console`` and expires with the login (8 hours).
- Every POST carries a form token, checked in constant time: the login form a double-submit
  token (a random cookie and the same value in the form); a signed-in form the synchronizer
  token derived from the login (``SecretBox.console_csrf_token``). A POST whose ``Origin`` is
  not the service's own (``null`` included) is refused too; so that a browser sends its real
  Origin, the pages' ``Referrer-Policy`` is ``same-origin``, not ``no-referrer``.
- Every page: a CSP with no script at all (``default-src 'none'``, the stylesheet from
  ``'self'``), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``, ``no-store``.
- HTML for people, not part of the API: every route is left out of the served OpenAPI, like
  the hosted pages (``include_in_schema=False``). Errors are pages too (4xx), never JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from imprint_sessions.console.pages import (
    ASSETS,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    new_login_token,
    page,
    read_form,
    secure,
    set_cookie,
    tokens_match,
)
from imprint_sessions.deps import Svc, console_actor
from imprint_sessions.domain import audit as audit_trail
from imprint_sessions.domain import console, operators
from imprint_sessions.errors import ImprintError
from imprint_sessions.hosted.pages import own_origin
from imprint_sessions.logs import redact_credentials
from imprint_sessions.services import Services
from imprint_sessions.storage.records import OperatorSession

LOGIN_PATH = "/console/login"
LOGIN_TOKEN_SECONDS = 3600
SECTIONS = (
    ("sessions", "Sessions"),
    ("customers", "Customers"),
    ("applications", "Applications"),
    ("webhooks", "Webhook deliveries"),
    ("keys", "API keys"),
    ("audit", "Audit events"),
)
# What a redirect after an action may announce (``?done=``): fixed words, never the caller's.
NOTICES = {
    "revoked": "The key was revoked.",
    "replayed": "The delivery was queued for replay.",
}


class _SignInFirst(Exception):
    """No live login: a page redirects to the login form."""


class _Forbidden(Exception):
    """A POST without a valid form token, or from another origin."""


class ConsoleRoute(APIRoute):
    """Every error of a console route is a page: the login form for no login, a 4xx page for
    a refused form or bad input (never the API's JSON, never a 500 for what a person typed)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except _SignInFirst:
                return secure(RedirectResponse(LOGIN_PATH, status_code=303))
            except _Forbidden:
                return error_page(403, "This form has expired or was not sent from the console.")
            except ImprintError as exc:
                if exc.status >= 500:
                    raise
                message = getattr(exc, "message", None) or "; ".join(exc.details)
                return error_page(exc.status, message)
            except RequestValidationError:
                return error_page(400, "The request was malformed.")
            except HTTPException as exc:
                return error_page(exc.status_code, "Not found." if exc.status_code == 404 else "")

        return handle


def error_page(status: int, message: str) -> Response:
    # A message can echo what was sent (an id in the path): a credential there is never shown.
    return page(
        "error.html", status=status, status_code=status, message=redact_credentials(message)
    )


router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


# -- who is signed in -------------------------------------------------------------------------
async def _login(request: Request, services: Services) -> OperatorSession:
    session = await operators.session_of_token(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        token=request.cookies.get(SESSION_COOKIE),
    )
    if session is None:
        raise _SignInFirst
    return session


def _same_origin(request: Request, services: Services) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != own_origin(request, services):
        raise _Forbidden


async def _checked_post(
    request: Request, services: Services
) -> tuple[OperatorSession, dict[str, str]]:
    """The login a POST acts for and its form, after the form token and origin checks."""
    session = await _login(request, services)
    _same_origin(request, services)
    form = await read_form(request)
    if not services.box.console_csrf_matches(session.id, form.get("csrf_token")):
        raise _Forbidden
    return session, form


def _context(services: Services, session: OperatorSession, **extra: Any) -> dict[str, Any]:
    return {
        "operator": session.operator_name,
        "csrf_token": services.box.console_csrf_token(session.id),
        "sections": SECTIONS,
        **extra,
    }


# -- signing in and out -----------------------------------------------------------------------
@router.get("/login")
async def login_form(request: Request, services: Svc) -> Response:
    """The sign-in form (an operator credential, from ``imprint-sessions operators create``)."""
    return _login_page(request, services)


def _login_page(
    request: Request, services: Services, *, status: int = 200, error: str | None = None
) -> Response:
    token = new_login_token()
    response = page("login.html", status=status, csrf_token=token, error=error)
    set_cookie(
        response,
        request,
        services,
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_TOKEN_SECONDS,
        path=LOGIN_PATH,
    )
    return response


@router.post("/login")
async def login(request: Request, services: Svc) -> Response:
    """Sign in: a live login in an HttpOnly cookie, then the console."""
    _same_origin(request, services)
    form = await read_form(request)
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
        raise _Forbidden
    issued = await operators.log_in(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        credential=form.get("credential", "").strip() or None,
    )
    if issued is None:
        return _login_page(request, services, status=401, error="That credential is not valid.")
    response = secure(RedirectResponse("/console", status_code=303))
    lifetime = (issued.session.expires_at - issued.session.created_at) // 1000
    set_cookie(response, request, services, SESSION_COOKIE, issued.token, max_age=lifetime)
    clear_cookie(response, LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, services: Svc) -> Response:
    """Sign out: the login is revoked on every server, the cookie cleared."""
    session, _ = await _checked_post(request, services)
    await operators.log_out(services.database.repositories, clock=services.clock, session=session)
    response = secure(RedirectResponse(LOGIN_PATH, status_code=303))
    clear_cookie(response, SESSION_COOKIE)
    return response


# -- reading ----------------------------------------------------------------------------------
@router.get("")
async def home(request: Request, services: Svc) -> Response:
    """Pick a partner."""
    session = await _login(request, services)
    found = await console.list_partners(services.database.repositories)
    return page("partners.html", **_context(services, session, partners=found, partner=None))


async def _partner_page(
    request: Request, services: Services, partner_id: str, section: str, **extra: Any
) -> tuple[OperatorSession, dict[str, Any]]:
    session = await _login(request, services)
    partner = await console.get_partner(services.database.repositories, partner_id=partner_id)
    notice = NOTICES.get(request.query_params.get("done", ""))
    return session, _context(
        services, session, partner=partner, section=section, notice=notice, **extra
    )


@router.get("/partners/{partner_id}")
async def partner_home(partner_id: str, request: Request, services: Svc) -> Response:
    """A partner's first section."""
    _, context = await _partner_page(request, services, partner_id, "sessions")
    return secure(
        RedirectResponse(f"/console/partners/{context['partner'].id}/sessions", status_code=303)
    )


@router.get("/partners/{partner_id}/sessions")
async def sessions(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's newest customer sessions and their states."""
    _, context = await _partner_page(request, services, partner_id, "sessions")
    rows = await console.recent_sessions(
        services.database.repositories, clock=services.clock, partner_id=context["partner"].id
    )
    return page("sessions.html", **context, rows=rows)


@router.get("/partners/{partner_id}/customers")
async def customers(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's newest customers, masked."""
    _, context = await _partner_page(request, services, partner_id, "customers")
    rows = await console.recent_customers(
        services.database.repositories, partner_id=context["partner"].id
    )
    return page("customers.html", **context, rows=rows)


@router.get("/partners/{partner_id}/applications")
async def applications(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's newest applications and their decisions."""
    _, context = await _partner_page(request, services, partner_id, "applications")
    rows = await console.recent_applications(
        services.database.repositories, partner_id=context["partner"].id
    )
    return page("applications.html", **context, rows=rows)


@router.get("/partners/{partner_id}/webhooks")
async def webhooks(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's newest webhook deliveries, every attempt of each, and Replay."""
    _, context = await _partner_page(request, services, partner_id, "webhooks")
    rows = await console.recent_deliveries(
        services.database.repositories, partner_id=context["partner"].id
    )
    return page("webhooks.html", **context, rows=rows)


@router.get("/partners/{partner_id}/keys")
async def keys(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's API keys by display prefix, and Revoke."""
    _, context = await _partner_page(request, services, partner_id, "keys")
    rows = await console.api_keys(services.database.repositories, partner_id=context["partner"].id)
    return page("keys.html", **context, rows=rows)


@router.get("/partners/{partner_id}/audit")
async def audit(partner_id: str, request: Request, services: Svc) -> Response:
    """The partner's audit trail, newest first, by type, a page at a time."""
    wanted = [t for t in request.query_params.getlist("type") if t]
    after = request.query_params.get("starting_after") or None
    _, context = await _partner_page(request, services, partner_id, "audit")
    found = await console.audit_page(
        services.database.repositories,
        partner_id=context["partner"].id,
        types=wanted,
        starting_after=after,
    )
    return page(
        "audit.html",
        **context,
        page_=found,
        event_types=audit_trail.EVENT_TYPES,
        wanted=wanted[0] if len(wanted) == 1 else "",
    )


# -- acting -----------------------------------------------------------------------------------
@router.post("/partners/{partner_id}/keys/{api_key_id}/revoke")
async def revoke_key(partner_id: str, api_key_id: str, request: Request, services: Svc) -> Response:
    """Revoke one of the partner's keys (audited: ``api_key.revoked`` by the operator)."""
    session, _ = await _checked_post(request, services)
    async with services.database.unit_of_work() as uow:
        partner = await console.get_partner(uow.repositories, partner_id=partner_id)
        await console.revoke_api_key(
            uow.repositories,
            clock=services.clock,
            partner_id=partner.id,
            api_key_id=api_key_id,
            audit=console_actor(request, session.operator_id, session.operator_name),
        )
        await uow.commit()
    # Refused here at once; by every other process within its cache's second.
    services.authenticator.forget_partner(partner.id)
    return secure(
        RedirectResponse(f"/console/partners/{partner.id}/keys?done=revoked", status_code=303)
    )


@router.post("/partners/{partner_id}/deliveries/{delivery_id}/replay")
async def replay(partner_id: str, delivery_id: str, request: Request, services: Svc) -> Response:
    """Replay a delivered or dead delivery (audited: ``webhook_delivery.replay_requested``)."""
    session, _ = await _checked_post(request, services)
    async with services.database.unit_of_work() as uow:
        partner = await console.get_partner(uow.repositories, partner_id=partner_id)
        await console.replay_delivery(
            uow.repositories,
            clock=services.clock,
            partner_id=partner.id,
            delivery_id=delivery_id,
            audit=console_actor(request, session.operator_id, session.operator_name),
        )
        await uow.commit()
    return secure(
        RedirectResponse(f"/console/partners/{partner.id}/webhooks?done=replayed", status_code=303)
    )


@router.get("/static/{filename}")
async def static_asset(filename: str) -> Response:
    """The console's stylesheet; hashed names are cached for a year."""
    found = ASSETS.find(filename)
    if found is None:
        raise HTTPException(404)
    asset, hashed = found
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable" if hashed else "no-cache",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{asset.digest}"',
        },
    )
