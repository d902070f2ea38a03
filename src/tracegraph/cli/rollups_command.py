"""``tracegraph rollups rebuild``: sum the graph's history into the metric rollups.

For a database written before the rollups existed (or data loaded straight with
Cypher): until it has run, the metrics are computed from the graph at query time.
Safe beside running servers and ingestion, and to run again (see
``store.rollups.rebuild_rollups``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from tracegraph.settings import Settings
from tracegraph.store.driver import open_driver
from tracegraph.store.rollups import REBUILD_PAGE, rebuild_rollups
from tracegraph.store.schema import apply_schema

err = Console(stderr=True)

rollups_app = typer.Typer(help="Metric rollups (counts, tokens, cost, latency sketches).")


@rollups_app.command()
def rebuild(
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Nodes brought in per transaction.")
    ] = REBUILD_PAGE,
) -> None:
    """Bring every LLM call, step run, run and event into the rollups, then mark them
    complete (the metrics read them from then on)."""
    settings = Settings()

    def progress(label: str, visited: int) -> None:
        print(f"rollups: {visited} {label} nodes", flush=True)

    async def run() -> dict[str, int]:
        driver = open_driver(settings.neo4j)
        try:
            await apply_schema(driver, settings.neo4j.database)
            return await rebuild_rollups(
                driver, settings.neo4j.database, page=page_size, on_page=progress
            )
        finally:
            await driver.close()

    try:
        visited = asyncio.run(run())
    except Exception as exc:  # the database is down or refuses us: one clear line
        err.print(f"[red]error:[/red] rollup rebuild failed against {settings.neo4j.uri}: {exc}")
        raise typer.Exit(1) from None
    summary = ", ".join(f"{count} {label}" for label, count in visited.items())
    print(f"rollups complete: {summary}", flush=True)
