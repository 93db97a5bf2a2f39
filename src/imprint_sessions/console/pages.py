"""What every console page shares: its templates and stylesheet, its headers (a CSP with no
script at all, no framing, no caching), its cookies, and reading its forms."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.hosted.pages import Assets
from imprint_sessions.services import Services

_HERE = Path(__file__).resolve().parent
STATIC_PREFIX: Final = "/console/static"
ASSETS: Final = Assets(_HERE / "static", url_prefix=STATIC_PREFIX)

# No script-src at all: the console runs no JavaScript (every action is a plain form POST).
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SESSION_COOKIE: Final = "imprint_console"
LOGIN_COOKIE: Final = "imprint_console_login"  # the login form's double-submit token
FORM_TYPE: Final = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS: Final = 20

_templates: Final = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals["asset"] = ASSETS.url
_templates.filters["ts"] = lambda ms: rfc3339_ms(ms) if ms is not None else ""


def render(template: str, **context: Any) -> str:
    """A template of ``templates/`` rendered with ``context`` (autoescaped)."""
    return _templates.get_template(template).render(**context)


def page(template: str, *, status: int = 200, **context: Any) -> Response:
    """A console page with its security headers."""
    return secure(Response(render(template, **context), status, media_type="text/html"))


def secure(response: Response) -> Response:
    """The headers every console response carries: no script, no framing, never cached."""
    response.headers.update(
        {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            # Not no-referrer: under it Chromium sends ``Origin: null`` with a form POST, and
            # the console refuses POSTs whose Origin is not its own (no URL here holds a secret).
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        }
    )
    return response


def uses_https(request: Request, services: Services) -> bool:
    """Whether the browser reaches the service over https (then cookies are ``Secure``)."""
    public = services.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(
    response: Response,
    request: Request,
    services: Services,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/console",
) -> None:
    """An HttpOnly, SameSite=Strict cookie, ``Secure`` when the service is reached by https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        secure=uses_https(request, services),
        samesite="strict",
    )


def clear_cookie(response: Response, name: str, *, path: str = "/console") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time equality of two form tokens (neither may be missing)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A urlencoded form body as ``name -> value`` (the first of repeated names); anything
    else a 400."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"body: must be a form ({FORM_TYPE})")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        fields = parse_qs(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("body: must be a well-formed form") from None
    return {name: values[0] for name, values in fields.items()}
