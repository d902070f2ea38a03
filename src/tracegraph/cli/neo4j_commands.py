"""``tracegraph neo4j start|stop|status``: the local Neo4j server without Docker."""

from __future__ import annotations

from urllib.parse import urlparse

import typer

from tracegraph.localneo4j import LocalNeo4j, LocalNeo4jError
from tracegraph.settings import get_settings

neo4j_app = typer.Typer(help="Run a local Neo4j 5.26 Community server (fetched once via Maven).")


def local_server(name: str = "default") -> LocalNeo4j:
    settings = get_settings()
    port = urlparse(settings.neo4j.uri).port or 7687
    return LocalNeo4j(settings.neo4j_home, name=name, bolt_port=port)


@neo4j_app.command()
def start() -> None:
    """Download (first time), configure and start the server; wait until Bolt answers."""
    try:
        uri = local_server().start()
    except LocalNeo4jError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"neo4j is running at {uri}")


@neo4j_app.command()
def stop() -> None:
    """Stop the server (no-op if it is not running)."""
    local_server().stop()
    typer.echo("neo4j is stopped")


@neo4j_app.command()
def status() -> None:
    """Tell whether the server runs and answers Bolt; exit 1 when it does not."""
    st = local_server().status()
    if st.running and st.answering:
        typer.echo(f"running pid={st.pid} uri={st.bolt_uri} version={st.version}")
        return
    if st.running:
        typer.echo(f"starting or unhealthy: pid={st.pid} alive but Bolt does not answer")
    else:
        typer.echo("stopped")
    raise typer.Exit(1)


@neo4j_app.command()
def fetch() -> None:
    """Download the server jars once (via Maven) without starting anything."""
    from tracegraph.localneo4j import NEO4J_VERSION, ensure_dist

    try:
        lib = ensure_dist(get_settings().neo4j_home / "dist" / NEO4J_VERSION)
    except LocalNeo4jError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"neo4j {NEO4J_VERSION} is in {lib}")
