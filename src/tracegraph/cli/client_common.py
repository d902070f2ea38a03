"""Shared bits of the client commands (emit, tail, lineage, impact, quarantine)."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any, NoReturn

import httpx
import orjson
import typer
from rich.console import Console

DEFAULT_URL = "http://127.0.0.1:8000"

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="TRACEGRAPH_URL",
        help="Service base URL (TRACEGRAPH_URL).",
        show_default=True,
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="TRACEGRAPH_API_KEY", help="API key (TRACEGRAPH_API_KEY)."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    # Straight to stdout (no rich markup or wrapping) so scripts can parse it.
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def client(url: str, api_key: str | None = None, timeout_s: float = 30.0) -> httpx.Client:
    headers = {"user-agent": "tracegraph-cli"}
    key = api_key or os.environ.get("TRACEGRAPH_API_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)


def request(
    http: httpx.Client, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
) -> httpx.Response:
    """One HTTP call; connection errors and unexpected statuses end the command."""
    try:
        resp = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {http.base_url}: {exc}")
    if resp.status_code not in ok:
        try:
            detail = resp.json().get("error") or resp.text
        except ValueError:
            detail = resp.text
        fail(f"{method} {path} answered {resp.status_code}: {detail}")
    return resp


def graphql(url: str, api_key: str | None, query: str, variables: dict[str, Any]) -> Any:
    """Run a GraphQL query over HTTP; GraphQL errors end the command with their message."""
    with client(url, api_key) as http:
        resp = request(
            http, "POST", "/graphql", json={"query": query, "variables": variables}, ok=(200,)
        )
    body = resp.json()
    if body.get("errors"):
        fail("; ".join(str(e.get("message")) for e in body["errors"]))
    return body["data"]


def ws_url(url: str) -> str:
    """The GraphQL WebSocket endpoint of a service base URL."""
    base = url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/graphql"
    return "ws://" + base.removeprefix("http://") + "/graphql"
