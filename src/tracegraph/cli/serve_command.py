"""``tracegraph serve``."""

from __future__ import annotations

import gc
from typing import Annotated

import typer
import uvicorn

from tracegraph.settings import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (TRACEGRAPH_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (TRACEGRAPH_PORT).")] = None,
) -> None:
    """Run the API and dashboard (settings from TRACEGRAPH_* and NEO4J_*)."""
    settings = get_settings()
    from tracegraph.api.app import create_app
    from tracegraph.api.ws_protocol import uvicorn_ws_options

    app = create_app(settings)
    _tune_gc()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        # Bounded send buffers and a last word for slow clients (api/ws_protocol.py).
        **uvicorn_ws_options(settings),
    )


# Ingest allocates a few dozen short-lived objects per event. With the default gen-0
# threshold (700) the collector runs every ~20 events and walks the whole young heap;
# validation then spends about a fifth of its time in it.
_GEN0_THRESHOLD = 20_000


def _tune_gc() -> None:
    """Freeze the objects built at startup (modules, schema, app) out of the collector's
    sight and collect young objects less often: a long-lived server, not a script."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GEN0_THRESHOLD, gen1, gen2)
