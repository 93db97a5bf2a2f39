"""What every hosted page shares: static assets named by content hash, the Jinja2 templates,
and the origin checks and headers that make up each page's security policy."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from imprint_sessions.domain.origins import is_local_origin, normalise_origin
from imprint_sessions.services import Services

_HERE = Path(__file__).resolve().parent
STATIC_DIR: Final = _HERE / "static"
TEMPLATES_DIR: Final = _HERE / "templates"
SDK_PATH: Final = "/sdk/imprintsdk.js"

# Localhost on any port may frame the hosted page in the sandbox (partners developing locally).
SANDBOX_FRAME_SOURCES: Final = (
    "http://localhost:*",
    "http://127.0.0.1:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
)
_BASE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)
# Fixed, so the same bytes get the same type on every machine (mimetypes reads /etc/mime.types).
_MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


# -- static assets, named by content hash -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Asset:
    """One static file, with a short hash of its bytes (its cache-busting name)."""

    body: bytes
    digest: str
    media_type: str


class Assets:
    """The files of ``static/``, read once. Pages link ``name.<hash>.ext``, served as immutable;
    the plain name is served too, but must be revalidated."""

    def __init__(self, directory: Path, *, url_prefix: str = "/hosted/static") -> None:
        self._url_prefix = url_prefix
        self._by_name: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                body = path.read_bytes()
                media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
                self._by_name[path.name] = Asset(
                    body, hashlib.sha256(body).hexdigest()[:12], media_type
                )

    def get(self, name: str) -> Asset:
        return self._by_name[name]

    def url(self, name: str) -> str:
        stem, dot, suffix = name.rpartition(".")
        return f"{self._url_prefix}/{stem}.{self._by_name[name].digest}{dot}{suffix}"

    def find(self, filename: str) -> tuple[Asset, bool] | None:
        """The asset a URL names, and whether the name carried its current hash."""
        if filename in self._by_name:
            return self._by_name[filename], False
        stem, _, suffix = filename.rpartition(".")
        name, _, digest = stem.rpartition(".")
        asset = self._by_name.get(f"{name}.{suffix}")
        if asset is None or digest != asset.digest:
            return None
        return asset, True


ASSETS: Final = Assets(STATIC_DIR)
_templates: Final = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals["asset"] = ASSETS.url


def render(template: str, **context: Any) -> str:
    """A template of ``templates/`` rendered with ``context`` (autoescaped)."""
    return _templates.get_template(template).render(**context)


# -- origins and the Content-Security-Policy ----------------------------------------------------
def frame_ancestors(partner_origins: list[str] | None, *, sandbox: bool) -> str:
    """The ``frame-ancestors`` sources: ``'self'``, the partner's origins, localhost in sandbox."""
    sources = ["'self'"]
    if sandbox:
        sources += SANDBOX_FRAME_SOURCES
    for origin in partner_origins or []:
        normalised = normalise_origin(origin)
        if normalised is not None and normalised not in sources:
            sources.append(normalised)
    return " ".join(sources)


def content_security_policy(frame_sources: str, *, frame_src: str | None = None) -> str:
    policy = f"{_BASE_CSP}; frame-ancestors {frame_sources}"
    if frame_src:
        policy += f"; frame-src {frame_src}"
    return policy


def parent_origin_allowed(
    origin: str, *, partner_origins: list[str] | None, sandbox: bool, own_origin: str
) -> bool:
    """May the page post its messages (customer data included) to ``origin``?"""
    if origin == own_origin:
        return True
    if origin in {normalise_origin(o) for o in partner_origins or []}:
        return True
    return sandbox and is_local_origin(origin)


def own_origin(request: Request, services: Services) -> str:
    """The service's public origin: ``IMPRINT_PUBLIC_URL`` if set, else what the browser used."""
    configured = normalise_origin(
        "/".join((services.settings.public_url or "").split("/")[:3]) or None
    )
    if configured:
        return configured
    return normalise_origin(f"{request.url.scheme}://{request.url.netloc}") or ""


def html_response(html: str, policy: str) -> Response:
    """A page that is never cached, sends no ``Referer`` and runs only the service's own code."""
    return Response(
        html,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": policy,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
