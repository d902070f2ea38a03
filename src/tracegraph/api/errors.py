"""Error bodies are always ``{"error": "..."}`` with the right status and headers.

Services raise typed errors carrying their status (``tracegraph.ingest.errors``,
``tracegraph.ingest.quarantine``); they are answered here, in one place. A quarantine
refusal also shows the entry as it stands (``"entry"``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tracegraph.api.json_response import json_response
from tracegraph.ingest.errors import IngestError
from tracegraph.ingest.quarantine import QuarantineRefusal
from tracegraph.redaction import Redactions


def error_response(status: int, message: str, retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return json_response({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def _ingest_error(request: Request, exc: IngestError) -> Response:
        body: dict[str, Any] = {"error": _scrubbed(request, str(exc))}
        if isinstance(exc, QuarantineRefusal) and exc.entry is not None:
            body["entry"] = exc.entry
        retry = exc.retry_after_s
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return json_response(body, status_code=exc.status, headers=headers)


def _scrubbed(request: Request, message: str) -> str:
    # A message may quote the bad input (an OTLP id, say), secrets and all.
    services = getattr(request.app.state, "services", None)
    if services is None:
        return message
    return services.ingest.scrubber.scrub_text(message, Redactions())
