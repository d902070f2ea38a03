"""Mounting the dashboard on the FastAPI app (one call from ``tracegraph.api.app``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

from tracegraph.settings import REPO_ROOT

# An installed wheel carries the dashboard as package data (pyproject.toml's force-include
# table: web/index.html, web/src and the vendored files of web/node_modules under
# tracegraph/_web, same layout). A checkout (editable install) has no such folder here and
# serves the repository's web/ itself, so edits show without reinstalling.
PACKAGED_WEB_ROOT: Path = Path(__file__).resolve().parents[1] / "_web"
REPO_WEB_ROOT: Path = REPO_ROOT / "web"


def _web_root() -> Path:
    return PACKAGED_WEB_ROOT if (PACKAGED_WEB_ROOT / "index.html").is_file() else REPO_WEB_ROOT


WEB_ROOT: Path = _web_root()
NODE_MODULES: Path = WEB_ROOT / "node_modules"

# URL name under /static/vendor -> directory inside node_modules. Directories rather than
# single files because ES modules import sibling chunks (graphql-ws, highlight.js languages).
VENDOR_DIRS: dict[str, str] = {
    "graphql-ws": "graphql-ws/dist",
    "uplot": "uplot/dist",
    "cytoscape": "cytoscape/dist",
    "cytoscape-dagre": "cytoscape-dagre/dist",
    "highlight.js": "@highlightjs/cdn-assets/es",
    "highlight.js-styles": "@highlightjs/cdn-assets/styles",
    # The live store: RFC 6902 patches and RFC 8785 digests (docs/live-deltas.md).
    "fast-json-patch": "fast-json-patch",
    "canonicalize": "canonicalize/lib",
}

# Client-side routes that answer with the page itself so deep links survive a reload.
SPA_PATHS: tuple[str, ...] = (
    "/",
    "/pipelines/{name:path}",
    "/runs/{run_id:path}",
    "/lineage",
    "/impact",
    "/config",
    "/config/{name:path}",
    "/quarantine",
    "/audit",
    "/changes",
    "/changes/{name:path}",
)

_NO_SETUP = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tracegraph</title>
</head><body>
<main><h1>Tracegraph dashboard not installed</h1>
<p>Run <code>make setup</code> (it runs <code>npm ci --prefix web</code>) and restart.</p>
</main></body></html>"""


def _index() -> FileResponse | HTMLResponse:
    index = WEB_ROOT / "index.html"
    if not index.is_file() or not NODE_MODULES.is_dir():
        return HTMLResponse(_NO_SETUP, status_code=503)
    # no-cache: the page is tiny and must always match the modules the server has.
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` and its deep links; static files under ``/static``."""
    app.mount(
        "/static/app", StaticFiles(directory=WEB_ROOT / "src", check_dir=False), name="web-app"
    )
    for name, rel in VENDOR_DIRS.items():
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=NODE_MODULES / rel, check_dir=False),
            name=f"web-vendor-{name}",
        )

    # Explicit paths rather than a catch-all: routes other modules register later (GET
    # /v1/..., /metrics) must never be shadowed by the page.
    async def page() -> FileResponse | HTMLResponse:
        return _index()

    for path in SPA_PATHS:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_model=None)
