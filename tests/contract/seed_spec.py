"""The seed's OpenAPI for POST /v2/customer_sessions, from its verbatim copy; $ref resolving."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# A byte-for-byte copy of the seed (shared/seed/000_9766d52015594115.txt): a markdown preamble,
# then the OpenAPI document between ````yaml and ```` fence lines.
SEED_FILE = Path(__file__).with_name("seed_create_customer_session.md")
SEED_PATH = "/v2/customer_sessions"

_YAML_BLOCK = re.compile(r"^````yaml[^\n]*\n(.*?)^````[ \t]*$", re.DOTALL | re.MULTILINE)


def load_seed_spec() -> dict[str, Any]:
    """The seed's OpenAPI document as a dict (a fresh copy on every call)."""
    match = _YAML_BLOCK.search(SEED_FILE.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{SEED_FILE}: no ````yaml block")
    spec = yaml.safe_load(match.group(1))
    if not isinstance(spec, dict) or "openapi" not in spec:
        raise ValueError(f"{SEED_FILE}: the yaml block is not an OpenAPI document")
    return spec


def resolve_refs(node: Any, root: dict[str, Any], chain: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``$ref`` replaced by (a resolved copy of) its target.

    Keywords beside a ``$ref`` (OpenAPI 3.1 allows them) override the target's.
    """
    if isinstance(node, list):
        return [resolve_refs(item, root, chain) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if not (isinstance(ref, str) and ref.startswith("#/")):
            raise ValueError(f"not a local $ref: {ref!r}")
        if ref in chain:
            raise ValueError(f"cyclic $ref: {' -> '.join((*chain, ref))}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return resolve_refs({**target, **siblings}, root, (*chain, ref))
    return {key: resolve_refs(value, root, chain) for key, value in node.items()}
