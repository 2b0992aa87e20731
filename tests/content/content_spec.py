"""Checking the content server's answers against IO's official remote-content spec.

The spec (OpenAPI 3.0, ``io-backend.remote-content.openapi.yaml``) is read from the folder
``tests/io_spec.py`` names; without it the tests that need it are skipped, saying how to
enable them. A schema is made self-contained (``$ref`` inlined) and validated as OpenAPI 3.0
says (``openapi-schema-validator``); on top, an object may hold only the properties the spec
defines, so the server cannot drift into inventing fields. An answer the spec gives no body
(401, 403, 429) must have none; declared headers (``Retry-After`` on 503) must be there.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
import pytest
import yaml
from io_spec import SPEC_DIR
from openapi_schema_validator import OAS30Validator

SPEC = SPEC_DIR / "io-backend.remote-content.openapi.yaml"
MISSING = None if SPEC.is_file() else (
    f"{SPEC.name} not found in {SPEC_DIR}: set IO_SPEC_DIR to a folder holding IO's official "
    "OpenAPI files to check the content server against its spec")
requires_spec = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@functools.cache
def _spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline(_spec()["components"]["schemas"][name])
        inlined = {key: _inline(value) for key, value in node.items()}
        for bound in ("maximum", "minimum"):  # YAML 1.1 reads ``6E+2`` (no dot) as text
            if isinstance(inlined.get(bound), str):
                inlined[bound] = float(inlined[bound])
        if "properties" in inlined:
            inlined.setdefault("additionalProperties", False)
        return inlined
    if isinstance(node, list):
        return [_inline(item) for item in node]
    return node


def assert_matches_spec(template: str, response: httpx.Response) -> None:
    """``response`` is one the spec allows for ``GET template`` (e.g. ``/messages/{id}``)."""
    operation = _spec()["paths"][template]["get"]
    declared = operation["responses"].get(response.status_code)
    assert declared is not None, f"{template}: the spec has no {response.status_code} answer"
    for header in declared.get("headers", {}):
        assert header in response.headers, f"{template} {response.status_code}: no {header}"
    media_types = declared.get("content") or {}
    if not media_types:
        assert response.content == b"", f"{template} {response.status_code} must have no body"
        return
    media = response.headers.get("content-type", "").split(";")[0].strip()
    entry = media_types.get(media) or media_types.get("*/*")
    assert entry is not None, f"{template} {response.status_code}: {media} not in the spec"
    schema = _inline(entry.get("schema", {}))
    if schema.get("format") == "binary":
        assert response.content, "an attachment answer must carry the bytes"
        return
    OAS30Validator(schema).validate(response.json())
