"""``tracegraph emit FILE``: post events from a file (JSON array, one object, or NDJSON)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

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

# Well below the service's default limit (5,000 events) so one file needs few requests.
CHUNK = 1000


class _Totals(TypedDict):
    """The whole file's answer, summed over its chunks (printed as is with --json)."""

    events: int
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]
    last_seq: int


def parse_events(text: bytes) -> list[Any]:
    """A JSON array, a single JSON object, or NDJSON (one value per line)."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        value = None
    else:
        return value if isinstance(value, list) else [value]
    events = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"line {number} is not JSON: {exc}") from None
    return events


def emit(
    file: Annotated[str, typer.Argument(help="Path of the events file, or - for stdin.")],
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send events to the service; exit 1 when any were rejected (they are quarantined)."""
    data = sys.stdin.buffer.read() if file == "-" else _read(file)
    try:
        events = parse_events(data)
    except ValueError as exc:
        fail(str(exc))
    total: _Totals = {
        "events": len(events),
        "accepted": 0,
        "duplicates": 0,
        "rejected": [],
        "last_seq": 0,
    }
    with client(url, api_key) as http:
        for start in range(0, len(events), CHUNK):
            chunk = events[start : start + CHUNK]
            body = request(http, "POST", "/v1/events", json=chunk, ok=(200, 207)).json()
            total["accepted"] += body["accepted"]
            total["duplicates"] += body["duplicates"]
            total["last_seq"] = max(total["last_seq"], body["last_seq"])
            # Indexes are reported against the whole file, not the chunk.
            total["rejected"] += [{**r, "index": r["index"] + start} for r in body["rejected"]]
    if as_json:
        print_json(total)
    else:
        rejected = total["rejected"]
        console.print(
            f"accepted {total['accepted']}, duplicates {total['duplicates']}, "
            f"rejected {len(rejected)} (last seq {total['last_seq']})"
        )
        if rejected:
            table = Table(title="rejected (kept in the quarantine: tracegraph quarantine list)")
            table.add_column("index", justify="right")
            table.add_column("id")
            table.add_column("error")
            for r in rejected:
                table.add_row(str(r["index"]), r.get("id") or "", r["error"])
            console.print(table)
    if total["rejected"]:
        raise typer.Exit(1)


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
