"""One change, as the audit trail keeps it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """``actor`` is :attr:`Principal.actor`; ``target`` names the changed thing as
    ``<kind>:<key>`` (``pipeline:rag-nightly``, ``step:rag-nightly/embed``,
    ``api_key:<id>``, ``policy:redaction``, ``breach:<id>``); ``before``/``after`` are
    JSON-able snapshots (None when created / deleted)."""

    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
