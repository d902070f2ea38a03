"""``tracegraph``: serve, demo, and manage the local Neo4j."""

from __future__ import annotations

import typer

from tracegraph.cli.demo_command import demo
from tracegraph.cli.neo4j_commands import neo4j_app
from tracegraph.cli.serve_command import serve

app = typer.Typer(
    name="tracegraph",
    help="Knowledge-graph observability for AI pipelines.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve)
app.command()(demo)
app.add_typer(neo4j_app, name="neo4j")

if __name__ == "__main__":
    app()
