"""Adapters: pure translations of ecosystem formats (OpenLineage, OTLP) into our events.

They import neither FastAPI nor neo4j, so they can be unit-tested on plain data; the HTTP
routes in `tracegraph.api.adapter_routes` feed their output to `IngestService.ingest`.
"""

from __future__ import annotations

import hashlib
import re

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9._\-/:@]")
_MAX_NAME = 200


def sanitize_name(text: str, fallback: str = "unnamed") -> str:
    """`text` as a contract name: other characters become '-', long names keep a hash tail.

    The hash tail keeps two long names that share their first 190 characters distinct.
    """
    name = _BAD_NAME_CHARS.sub("-", text.strip()) or fallback
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: _MAX_NAME - 9]}-{digest}"
    return name


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic event id: a retried source event maps to the same ids (duplicates)."""
    blob = "\x1f".join("" if p is None else str(p) for p in parts)
    return f"{prefix}-{hashlib.sha256(blob.encode()).hexdigest()[:48]}"


__all__ = ["sanitize_name", "stable_id"]
