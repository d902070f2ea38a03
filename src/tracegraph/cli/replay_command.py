"""``tracegraph replay``: rebuild the graph from the stored event log (straight in Neo4j).

Non-destructive and resumable (see ``store.event_log.rebuild_from_log``): the log is
only read; a replay that was killed is continued by running the command again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tracegraph.ingest.pricing import load_prices
from tracegraph.retention.archive import MANIFEST
from tracegraph.retention.service import retention_service
from tracegraph.settings import Settings
from tracegraph.store.driver import open_driver
from tracegraph.store.event_log import PAGE, rebuild_from_log
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.schema import apply_schema

err = Console(stderr=True)


def replay(
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Events applied per transaction.")
    ] = PAGE,
    from_archive: Annotated[
        Path | None,
        typer.Option(
            "--from-archive",
            help="First put the events archived by retention in DIR back into the log "
            "(docs/retention.md), then rebuild from the whole log.",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Rebuild the graph derived from the event log (the log itself is kept)."""
    settings = Settings()
    if from_archive is not None and not (from_archive / MANIFEST).is_file():
        raise typer.BadParameter(
            f"{from_archive} has no {MANIFEST}: not a retention archive directory",
            param_hint="--from-archive",
        )

    def progress(applied: int, last_seq: int) -> None:
        # One line per committed page, flushed: scripts (and tests) follow it.
        print(f"replayed {applied} events (up to seq {last_seq})", flush=True)

    async def run() -> int:
        driver = open_driver(settings.neo4j)
        try:
            await apply_schema(driver, settings.neo4j.database)
            if from_archive is not None:
                service = retention_service(
                    settings.model_copy(update={"retention_archive_dir": from_archive}),
                    driver,
                    settings.query_timeout_s,
                )
                restored = await service.restore_archived_events(page_size)
                print(f"restored {restored} archived events into the log", flush=True)
            writer = EventWriter(
                driver, settings.neo4j.database, load_prices(settings.price_table_path)
            )
            return await rebuild_from_log(
                writer, driver, settings.neo4j.database, page=page_size, on_page=progress
            )
        finally:
            await driver.close()

    try:
        count = asyncio.run(run())
    except Exception as exc:  # the database is down or refuses us: one clear line
        err.print(f"[red]error:[/red] replay failed against {settings.neo4j.uri}: {exc}")
        raise typer.Exit(1) from None
    print(f"replay done: {count} events applied", flush=True)
