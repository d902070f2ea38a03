"""``tracegraph quarantine list|resubmit|discard``: review rejected events, send them
again or discard them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from tracegraph.cli.client_common import (
    ApiKeyOption,
    JsonOption,
    UrlOption,
    client,
    console,
    fail,
    print_json,
    request,
)

quarantine_app = typer.Typer(
    help="Events the service rejected: list them, re-submit them after a fix.",
    no_args_is_help=True,
)

_PAGE = 200


def _short(text: str | None, width: int = 60) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@quarantine_app.command("list")
def list_entries(
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "open",
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 50,
    after: Annotated[str | None, typer.Option(help="Cursor of a previous page.")] = None,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Quarantined events, oldest first, with the reason each was rejected."""
    with client(url, api_key) as http:
        params: dict[str, Any] = {"limit": limit, "status": status}
        if after:
            params["after"] = after
        page = request(http, "GET", "/v1/quarantine", params=params).json()
    if as_json:
        print_json(page)
        return
    table = Table(title=f"quarantine ({status})")
    for col in ("id", "received", "event id", "reason", "resolved"):
        table.add_column(col, overflow="fold" if col == "id" else "ellipsis")
    for e in page["items"]:
        resolved = f"seq {e['resolved_seq']}" if e.get("resolved_at") else ""
        table.add_row(
            e["id"], e["received_at"], e.get("event_id") or "", _short(e["reason"]), resolved
        )
    console.print(table)
    if page.get("next"):
        console.print(f"more: --after '{page['next']}'")


@quarantine_app.command()
def resubmit(
    entry_id: Annotated[str | None, typer.Argument(help="Quarantine entry id.")] = None,
    all_open: Annotated[
        bool, typer.Option("--all", help="Every open entry, each with its payload as received.")
    ] = False,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A corrected event (JSON object) to send instead."),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-ingest quarantined events; stored ones are marked resolved.

    Without --file the payload goes again as it was received (use after fixing the
    service's configuration or a contract bug); with --file the corrected event replaces
    it (use when the emitter sent something wrong).
    """
    if (entry_id is None) == (not all_open):
        fail("give one entry id or --all")
    if all_open and file is not None:
        fail("--file corrects one entry; it cannot be combined with --all")
    body: bytes | None = None
    if file is not None:
        try:
            body = file.read_bytes()
            if not isinstance(orjson.loads(body), dict):
                fail(f"{file} must hold one JSON object (the corrected event)")
        except (OSError, orjson.JSONDecodeError) as exc:
            fail(f"cannot use {file}: {exc}")
    results: list[dict[str, Any]] = []
    with client(url, api_key) as http:
        ids = [entry_id] if entry_id is not None else _open_ids(http)
        for qid in ids:
            resp = request(
                http,
                "POST",
                f"/v1/quarantine/{qid}/resubmit",
                content=body or b"",
                headers={"content-type": "application/json"},
                ok=(200, 404, 409, 422),
            )
            answer = resp.json()
            results.append({"id": qid, "status": resp.status_code, **answer})
    failed = [r for r in results if r["status"] != 200]
    if as_json:
        print_json(
            {"resolved": len(results) - len(failed), "failed": len(failed), "results": results}
        )
    else:
        table = Table(title="re-submitted")
        for col in ("id", "result", "detail"):
            table.add_column(col, overflow="fold" if col == "id" else "ellipsis")
        for r in results:
            if r["status"] == 200:
                how = "stored" if r.get("accepted") else "already stored"
                table.add_row(r["id"], "[green]resolved[/]", f"{how}, seq {r.get('seq')}")
            else:
                table.add_row(r["id"], f"[red]{r['status']}[/]", _short(r.get("error"), 80))
        console.print(table)
        console.print(f"{len(results) - len(failed)} resolved, {len(failed)} still quarantined")
    if failed:
        raise typer.Exit(1)


@quarantine_app.command()
def discard(
    entry_id: Annotated[str, typer.Argument(help="Quarantine entry id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is discarded (audited).")],
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a quarantined event without storing it (audited with you as the actor)."""
    with client(url, api_key) as http:
        resp = request(
            http,
            "POST",
            f"/v1/quarantine/{entry_id}/discard",
            json={"reason": reason},
            ok=(200, 400, 404, 409),
        )
    answer = resp.json()
    if as_json:
        print_json({"status": resp.status_code, **answer})
    elif resp.status_code == 200:
        console.print(f"[green]discarded[/] {entry_id}")
    else:
        console.print(f"[red]{resp.status_code}[/] {answer.get('error')}")
    if resp.status_code != 200:
        raise typer.Exit(1)


def _open_ids(http: Any) -> list[str]:
    # Collect ids first: resolving entries while paging would shift the pages.
    ids: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": _PAGE, "status": "open"}
        if after:
            params["after"] = after
        page = request(http, "GET", "/v1/quarantine", params=params).json()
        ids += [e["id"] for e in page["items"]]
        after = page.get("next")
        if not after:
            return ids
