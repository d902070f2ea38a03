"""Error bodies are always ``{"error": "..."}`` with the right status and headers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from tracegraph.api.json_response import json_response
from tracegraph.ingest.errors import IngestError
from tracegraph.redaction import Redactions


def error_response(status: int, message: str, retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return json_response({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IngestError)
    async def _ingest_error(request: Request, exc: IngestError) -> Response:
        return error_response(exc.status, _scrubbed(request, str(exc)), exc.retry_after_s)


def _scrubbed(request: Request, message: str) -> str:
    # A message may quote the bad input (an OTLP id, say), secrets and all.
    services = getattr(request.app.state, "services", None)
    if services is None:
        return message
    return services.ingest.scrubber.scrub_text(message, Redactions())
