"""``tracegraph lineage URI``: where an artifact came from (or, with --down, where it went)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tracegraph.cli.client_common import (
    ApiKeyOption,
    JsonOption,
    UrlOption,
    console,
    graphql,
    print_json,
)

LINEAGE_QUERY = """
query Lineage(
  $uri: String!, $version: String, $direction: Direction, $depth: Int, $observedOnly: Boolean,
  $field: String
) {
  lineage(
    uri: $uri, version: $version, direction: $direction, depth: $depth,
    observedOnly: $observedOnly, field: $field
  ) {
    root { id kind key label depth }
    nodes { id kind key label depth }
    edges { from to kind via path }
    truncated
  }
}
"""


def lineage_tables(graph: dict[str, Any], direction: str) -> tuple[Table, Table]:
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    nodes = Table(title=f"{direction.lower()} lineage of {graph['root']['label']}")
    for col in ("depth", "kind", "key", "label"):
        nodes.add_column(col, justify="right" if col == "depth" else "left")
    for n in sorted(graph["nodes"], key=lambda n: (n["depth"], n["kind"], n["key"])):
        nodes.add_row(str(n["depth"]), n["kind"], n["key"], n["label"])
    edges = Table(title="edges (the way data flowed)")
    for col in ("from", "to", "kind", "via"):
        edges.add_column(col)
    for e in graph["edges"]:
        # an inferred edge's run alone does not explain it: its step path does
        via = e["via"] or ""
        if e.get("path"):
            via = f"{via}: {' > '.join(e['path'])}"
        edges.add_row(
            labels.get(e["from"], e["from"]), labels.get(e["to"], e["to"]), e["kind"], via
        )
    return nodes, edges


def lineage(
    uri: Annotated[str, typer.Argument(help="Artifact URI.")],
    version: Annotated[
        str | None, typer.Option(help="One version (default: every version).")
    ] = None,
    down: Annotated[bool, typer.Option("--down", help="Downstream instead of upstream.")] = False,
    depth: Annotated[int, typer.Option(help="How many hops to follow.")] = 5,
    observed_only: Annotated[
        bool,
        typer.Option(
            "--observed-only",
            help="Only observed edges (a step run read one and wrote the other), not those "
            "inferred along a run's step DAG.",
        ),
    ] = False,
    field: Annotated[
        str | None,
        typer.Option(
            "--field", help="Column-level lineage of this field (column) of the artifact."
        ),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upstream (default) or downstream lineage of an artifact (or of one of its fields),
    as tables or JSON."""
    direction = "DOWNSTREAM" if down else "UPSTREAM"
    data = graphql(
        url,
        api_key,
        LINEAGE_QUERY,
        {
            "uri": uri,
            "version": version,
            "direction": direction,
            "depth": depth,
            "observedOnly": observed_only,
            "field": field,
        },
    )
    graph = data["lineage"]
    if as_json:
        print_json(graph)
        return
    nodes, edges = lineage_tables(graph, direction)
    console.print(nodes)
    console.print(edges)
    if graph["truncated"]:
        console.print("[yellow]truncated: the depth cap or the node limit cut the answer[/]")
