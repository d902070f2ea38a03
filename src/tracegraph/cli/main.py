"""``tracegraph``: serve, demo, and manage the local Neo4j."""

from __future__ import annotations

import typer

from tracegraph.cli.demo_command import demo
from tracegraph.cli.emit_command import emit
from tracegraph.cli.impact_command import impact
from tracegraph.cli.keys_command import keys_app
from tracegraph.cli.lineage_command import lineage
from tracegraph.cli.neo4j_commands import neo4j_app
from tracegraph.cli.quarantine_command import quarantine_app
from tracegraph.cli.replay_command import replay
from tracegraph.cli.retention_command import retention_app
from tracegraph.cli.rollups_command import rollups_app
from tracegraph.cli.serve_command import serve
from tracegraph.cli.tail_command import tail

app = typer.Typer(
    name="tracegraph",
    help="Knowledge-graph observability for AI pipelines.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve)
app.command()(demo)
app.add_typer(neo4j_app, name="neo4j")
app.command()(tail)
app.command()(lineage)
app.command()(impact)
app.command()(emit)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(keys_app, name="keys")
app.command()(replay)
app.add_typer(retention_app, name="retention")
app.add_typer(rollups_app, name="rollups")

if __name__ == "__main__":
    app()
