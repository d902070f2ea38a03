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
    typer.Option(
        "--api-key",
        envvar="TRACEGRAPH_API_KEY",
        help="API key or bearer token, sent as Authorization: Bearer (TRACEGRAPH_API_KEY).",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]

# Exit code of a command the service refused to authenticate or authorize (401/403):
# distinct from 1 (the command ran and found a problem) so scripts can tell them apart.
AUTH_EXIT_CODE = 2

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    # Straight to stdout (no rich markup or wrapping) so scripts can parse it.
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def api_key_of(api_key: str | None) -> str | None:
    """The key given on the command line, else ``TRACEGRAPH_API_KEY``."""
    key = (api_key or os.environ.get("TRACEGRAPH_API_KEY") or "").strip()
    return key.removeprefix("Bearer ").strip() or None


def auth_headers(api_key: str | None) -> dict[str, str]:
    key = api_key_of(api_key)
    return {"authorization": f"Bearer {key}"} if key else {}


def refused(status: int | str, detail: str, api_key: str | None) -> NoReturn:
    """End the command for a refused credential: one line, exit code 2."""
    detail = " ".join(str(detail).split())[:300]
    if api_key_of(api_key) is None:
        fail(
            f"the service needs an API key ({status}): {detail} "
            "(pass --api-key or set TRACEGRAPH_API_KEY)",
            AUTH_EXIT_CODE,
        )
    fail(f"the service refused the API key ({status}): {detail}", AUTH_EXIT_CODE)


def client(url: str, api_key: str | None = None, timeout_s: float = 30.0) -> httpx.Client:
    headers = {"user-agent": "tracegraph-cli", **auth_headers(api_key)}
    return httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text
    if isinstance(body, dict):
        return str(body.get("error") or body.get("detail") or resp.text)
    return resp.text


def request(
    http: httpx.Client, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
) -> httpx.Response:
    """One HTTP call; connection errors and unexpected statuses end the command."""
    try:
        resp = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {http.base_url}: {exc}")
    if resp.status_code in (401, 403) and resp.status_code not in ok:
        sent = http.headers.get("authorization", "").removeprefix("Bearer ").strip() or None
        refused(resp.status_code, _detail(resp), sent)
    if resp.status_code not in ok:
        fail(f"{method} {path} answered {resp.status_code}: {_detail(resp)}")
    return resp


def graphql(url: str, api_key: str | None, query: str, variables: dict[str, Any]) -> Any:
    """Run a GraphQL query over HTTP; GraphQL errors end the command with their message."""
    with client(url, api_key) as http:
        resp = request(
            http, "POST", "/graphql", json={"query": query, "variables": variables}, ok=(200,)
        )
    body = resp.json()
    errors = body.get("errors") or []
    forbidden = [e for e in errors if (e.get("extensions") or {}).get("code") == "FORBIDDEN"]
    if forbidden:
        refused(403, "; ".join(str(e.get("message")) for e in forbidden), api_key)
    if errors:
        fail("; ".join(str(e.get("message")) for e in errors))
    return body["data"]


def ws_url(url: str) -> str:
    """The GraphQL WebSocket endpoint of a service base URL."""
    base = url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/graphql"
    return "ws://" + base.removeprefix("http://") + "/graphql"
