"""``tracegraph serve``."""

from __future__ import annotations

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

    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        ws_ping_interval=20,
        ws_max_size=settings.ws_max_message_bytes,
    )
