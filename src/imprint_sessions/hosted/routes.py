"""The browser's routes: ``/start`` (the hosted application), ``/sdk/imprintsdk.js`` (the web
SDK), the pages' static assets, and the sandbox's demo shop (``demo.py``).

Security decisions, in one place:

- Every page carries a strict Content-Security-Policy with no inline script or style at all
  (data reach ``app.js`` in a ``<script type="application/json">`` block, which never runs).
- ``/start``'s ``frame-ancestors`` lists the partner's configured origins. The partner is known
  from the client secret *without consuming it*: ``SecretBox.verify_client_secret`` yields the
  session id and a read finds its partner. An unverifiable secret still gets the page (which
  shows the error once the exchange fails) framed by ``'self'`` only. The sandbox also allows any
  localhost origin, so partners can develop against it.
- ``parentOrigin`` (sent by the SDK) is where the page posts its messages; it is accepted only if
  it is one of the origins allowed to frame the page, so customer data never goes to an origin the
  partner did not configure. Without an acceptable one, the page posts nothing to its parent.
- The URL of ``/start`` holds the secret until ``app.js`` strips it, so the page is never cached
  and sends no ``Referer``; the access log records query keys only (``middleware.py``).
- Sandbox only: ``test_outcome=IN_PROGRESS`` or ``ERROR:<error_code>``, or a ``hosted_outcome``
  fault the partner declared (``/v2/test_helpers/faults``), makes this start end with that state,
  reported once through the page's usual messages (``app.js``). Production ignores both.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.exceptions import HTTPException

from imprint_sessions.deps import Svc
from imprint_sessions.domain import client_sessions, faults
from imprint_sessions.domain.origins import normalise_origin
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.hosted import demo, i18n
from imprint_sessions.hosted.pages import (
    ASSETS,
    SDK_PATH,
    content_security_policy,
    frame_ancestors,
    html_response,
    own_origin,
    parent_origin_allowed,
    render,
)

router = APIRouter(include_in_schema=False)
router.include_router(demo.router)


@router.get("/start")
async def start(
    request: Request,
    services: Svc,
    client_secret: str | None = None,
    parent_origin: Annotated[str | None, Query(alias="parentOrigin")] = None,
    embed: str | None = None,
    test_outcome: str | None = None,
) -> Response:
    """The hosted application's page. It consumes nothing: ``app.js`` exchanges the secret."""
    settings = services.settings
    partner = await client_sessions.partner_of_client_secret(
        services.database.repositories, box=services.box, client_secret=client_secret
    )
    origins = list(partner.allowed_origins) if partner is not None else None
    parent = normalise_origin(parent_origin)
    if parent is not None and not parent_origin_allowed(
        parent,
        partner_origins=origins,
        sandbox=settings.sandbox,
        own_origin=own_origin(request, services),
    ):
        parent = None
    # The customer is unknown until app.js exchanges the secret: render in the browser's language
    # and carry both, so app.js can switch to the customer's preferred_language.
    language = i18n.pick_language(None, request.headers.get("accept-language"))
    outcome = None
    if settings.sandbox and test_outcome is not None:
        if problem := faults.outcome_problem(test_outcome):
            raise InvalidRequest(f"test_outcome: {problem}")
        outcome = test_outcome
    elif partner is not None and services.faults is not None:
        outcome = await services.faults.hosted_outcome(
            services.database.repositories, partner_id=partner.id
        )
    config = {
        "sandbox": settings.sandbox,
        "parentOrigin": parent,
        "embed": embed if embed in ("modal", "inline") else None,
        # The native SDKs' title bar shows it; the page itself never loads it. Without the
        # partner's own or a deployment default, the service's built-in logo.
        "logoUrl": (partner.logo_url if partner is not None else None)
        or settings.default_logo_url
        or own_origin(request, services) + ASSETS.url("logo.svg"),
        "language": language,
        "strings": {lang: i18n.translator(lang) for lang in i18n.LANGUAGES},
        # Sandbox: the state this start must end with (IN_PROGRESS or ERROR:<error_code>).
        "testOutcome": outcome,
    }
    html = render("start.html", lang=language, t=i18n.translator(language), config=config)
    return html_response(
        html, content_security_policy(frame_ancestors(origins, sandbox=settings.sandbox))
    )


@router.get(SDK_PATH)
async def sdk_script() -> Response:
    """The web SDK: ``Imprint.startApplication({...})``, loaded by partners' pages."""
    asset = ASSETS.get("sdk.js")
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={
            # A fixed URL that partners embed: cached briefly so a fix reaches them soon.
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{asset.digest}"',
        },
    )


@router.get("/hosted/static/{filename}")
async def static_asset(filename: str) -> Response:
    """A static file of the hosted pages; hashed names are cached for a year."""
    found = ASSETS.find(filename)
    if found is None:
        raise HTTPException(404)
    asset, hashed = found
    cache = "public, max-age=31536000, immutable" if hashed else "no-cache"
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{asset.digest}"',
        },
    )
