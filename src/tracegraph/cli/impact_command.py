"""``tracegraph impact KIND KEY``: the blast radius of a bad artifact, prompt, model, step…"""

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

KINDS = (
    "PIPELINE",
    "STEP",
    "RUN",
    "ARTIFACT",
    "ARTIFACT_VERSION",
    "PROMPT_VERSION",
    "MODEL",
    "OWNER",
)

IMPACT_QUERY = """
query Impact(
  $kind: NodeKind!, $key: String!, $depth: Int, $observedOnly: Boolean, $field: String
) {
  impact(kind: $kind, key: $key, depth: $depth, observedOnly: $observedOnly, field: $field) {
    root { id kind key label depth }
    artifacts { id uri version kind }
    steps { id key name }
    pipelines { name owner { id } }
    runs { id status startedAt pipeline { name } }
    owners { id kind name }
    slas { id maxDurationMs maxTokens maxCostUsd minSuccessRate }
    paths
    edges { from to kind via path }
    fields { id uri version name type }
    truncated
  }
}
"""


def impact_table(answer: dict[str, Any]) -> Table:
    """One row per affected node, grouped by kind (what a responder reads top-down)."""
    table = Table(title=f"impact of {answer['root']['kind']} {answer['root']['key']}")
    table.add_column("kind")
    table.add_column("affected")
    table.add_column("detail")
    for p in answer["pipelines"]:
        table.add_row("pipeline", p["name"], (p.get("owner") or {}).get("id") or "")
    for s in answer["steps"]:
        table.add_row("step", s["id"], s.get("name") or "")
    for o in answer["owners"]:
        table.add_row("owner", o["id"], o["kind"])
    for s in answer["slas"]:
        limits = {k: v for k, v in s.items() if k != "id" and v is not None}
        table.add_row("sla", s["id"], ", ".join(f"{k}={v}" for k, v in limits.items()))
    for f in answer.get("fields") or []:
        version = f"@{f['version']}" if f.get("version") else ""
        table.add_row("field", f"{f['uri']}{version} {f['name']}", f.get("type") or "")
    for a in answer["artifacts"]:
        label = f"{a['uri']}@{a['version']}" if a.get("version") else a["uri"]
        table.add_row("artifact", label, a.get("kind") or "")
    for r in answer["runs"]:
        detail = f"{r['pipeline']['name']} {r['status'].lower()} {r.get('startedAt') or ''}"
        table.add_row("run", r["id"], detail.strip())
    return table


def impact(
    kind: Annotated[str, typer.Argument(help=f"One of {', '.join(KINDS)} (case-insensitive).")],
    key: Annotated[
        str,
        typer.Argument(
            help="ARTIFACT uri, ARTIFACT_VERSION uri@version, PROMPT_VERSION template@version, "
            "MODEL provider/model, STEP pipeline/step, PIPELINE name, RUN id, OWNER id."
        ),
    ],
    depth: Annotated[int, typer.Option(help="How many hops to follow.")] = 10,
    observed_only: Annotated[
        bool,
        typer.Option(
            "--observed-only",
            help="Follow only observed data flow, not lineage inferred along a run's step DAG.",
        ),
    ] = False,
    field: Annotated[
        str | None,
        typer.Option(
            "--field",
            help="Impact of one field (column) of an ARTIFACT or ARTIFACT_VERSION: the "
            "fields derived from it and what reads them.",
        ),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """What is downstream of a node: pipelines, steps, owners, SLAs, artifacts and runs hit."""
    kind = kind.upper().replace("-", "_")
    if kind not in KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(KINDS)}", param_hint="KIND")
    variables = {
        "kind": kind,
        "key": key,
        "depth": depth,
        "observedOnly": observed_only,
        "field": field,
    }
    answer = graphql(url, api_key, IMPACT_QUERY, variables)["impact"]
    if as_json:
        print_json(answer)
        return
    console.print(impact_table(answer))
    counts = ", ".join(
        f"{len(answer[k])} {k}"
        for k in ("fields", "pipelines", "steps", "owners", "slas", "artifacts", "runs")
        if k != "fields" or answer.get("fields")
    )
    console.print(f"blast radius: {counts}")
    if answer["truncated"]:
        console.print("[yellow]truncated: the depth cap or the node limit cut the answer[/]")
