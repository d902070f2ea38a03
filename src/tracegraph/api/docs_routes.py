"""The OpenAPI description and its two viewers (``/openapi.json``, ``/docs``, ``/redoc``).

They describe every route, parameter and model of the API, so they are not public: in
development they need a credential like any other endpoint (any role: an ingester needs
the ingest routes' description as much as a reader needs the others), and in production
(``TRACEGRAPH_MODE=production``) they are not served at all, like introspection and
GraphiQL. FastAPI's own unauthenticated copies are turned off in the app factory.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from tracegraph.api.authentication import authenticate
from tracegraph.settings import Settings

OPENAPI_URL = "/openapi.json"


def install_api_docs(app: FastAPI, settings: Settings) -> None:
    """Serve the docs to authenticated callers in development; nothing in production."""
    if settings.mode == "production":
        return
    signed_in = [Depends(authenticate)]

    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} — API docs")

    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI_URL, title=f"{app.title} — API docs")

    for path, endpoint in ((OPENAPI_URL, openapi), ("/docs", swagger), ("/redoc", redoc)):
        app.add_api_route(path, endpoint, dependencies=signed_in, include_in_schema=False)
