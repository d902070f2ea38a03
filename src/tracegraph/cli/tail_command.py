"""``tracegraph tail``: follow the event stream live (GraphQL subscription over WebSocket).

The stream is resumable: the command remembers the last seq it printed and, when the
connection drops (service restart, network, "too slow" eviction), reconnects with
backoff and subscribes with ``afterSeq`` = that seq, so nothing is missed or repeated.
Without ``--after-seq`` it starts at the service's current last seq (now), which makes
even the first reconnect gapless.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Annotated, Any

import orjson
import typer
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tracegraph.cli.client_common import (
    AUTH_EXIT_CODE,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    api_key_of,
    auth_headers,
    console,
    err_console,
    graphql,
    refused,
    ws_url,
)
from tracegraph.events.governance import OWNER_SET, POLICY_SET, SLA_SET

SUBSCRIPTION = """
subscription Tail($afterSeq: Int, $pipeline: String, $run: ID, $types: [String!]) {
  events(afterSeq: $afterSeq, pipeline: $pipeline, run: $run, types: $types) {
    seq id type time pipeline run step data
  }
}
"""
LAST_SEQ_QUERY = "query { overview { lastSeq } }"

_MAX_BACKOFF_S = 10.0
# graphql-ws close codes for a refused connection_init: retrying cannot help.
_AUTH_CLOSE_CODES = frozenset({4401, 4403})
_COLORS = {
    "failed": "red",
    "completed": "green",
    "started": "cyan",
    "log": "dim",
    "prompt": "magenta",
    "response": "magenta",
    "artifact": "blue",
    "pipeline": "yellow",
}


def summary(event: dict[str, Any]) -> str:
    """A short human summary of an event's data, by type."""
    data = event.get("data") or {}
    kind = event["type"]
    if kind == "log":
        return f"[{data.get('level', '')}] {data.get('message', '')}"
    if kind.endswith(".failed"):
        return f"error: {(data.get('error') or {}).get('message', '')}"
    if kind == "step.progress":
        parts = [f"{data['percent']:g}%" if data.get("percent") is not None else ""]
        parts += [str(data.get("message") or "")]
        return " ".join(p for p in parts if p)
    if kind == "prompt.sent":
        tpl = data.get("template") or {}
        name = f" {tpl.get('name')}@{tpl.get('version')}" if tpl else ""
        return f"{data.get('provider', '')}/{data.get('model', '')}{name}"
    if kind == "response.received":
        return (
            f"in={data.get('input_tokens')} out={data.get('output_tokens')} "
            f"{data.get('latency_ms')}ms"
        )
    if kind == "response.chunk":
        return repr(data.get("delta", ""))[:60]
    if kind.startswith("artifact."):
        version = f"@{data['version']}" if data.get("version") else ""
        return f"{data.get('uri', '')}{version}"
    if kind == "step.started" and data.get("model"):
        return f"{data.get('provider', '')}/{data.get('model')}"
    if kind == "step.skipped":
        return str(data.get("reason") or "")
    if kind == OWNER_SET:
        return f"owner {data.get('owner')}"
    if kind == SLA_SET:
        sla = data.get("sla")
        return "sla removed" if not sla else "sla " + ", ".join(f"{k}={v}" for k, v in sla.items())
    if kind == POLICY_SET:
        custom = [r.get("name") for r in data.get("custom_rules") or []]
        return "redaction " + ", ".join([*(data.get("builtins") or []), *custom])
    return ""


def format_line(event: dict[str, Any]) -> str:
    family = (
        event["type"].split(".")[-1]
        if event["type"].endswith(("failed", "completed", "started"))
        else event["type"].split(".")[0]
    )
    color = _COLORS.get(family, "white")
    where = " ".join(
        x for x in (event.get("pipeline"), (event.get("run") or "")[:8], event.get("step")) if x
    )
    return (
        f"{event['seq']:>8}  {event['time']}  [{color}]{event['type']:<18}[/]  "
        f"{where}  {summary(event)}"
    )


async def _follow(
    url: str,
    api_key: str | None,
    variables: dict[str, Any],
    after_seq: int | None,
    count: int | None,
    as_json: bool,
) -> None:
    last = after_seq
    seen = 0
    backoff = 0.5
    headers = auth_headers(api_key)
    # The service authenticates a WebSocket in connection_init (the header is sent too).
    init_payload = {"Authorization": headers["authorization"]} if headers else {}
    while True:
        try:
            transport = WebsocketsTransport(
                url=ws_url(url),
                headers=headers or None,
                init_payload=init_payload,
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            )
            async with Client(transport=transport, fetch_schema_from_transport=False) as session:
                backoff = 0.5
                request = GraphQLRequest(
                    SUBSCRIPTION, variable_values={**variables, "afterSeq": last}
                )
                async for result in session.subscribe(request):
                    event = result["events"]
                    if last is not None and event["seq"] <= last:
                        continue  # belt and braces: never print a seq twice
                    last = event["seq"]
                    _print(event, as_json)
                    seen += 1
                    if count is not None and seen >= count:
                        return
            reason = "the server ended the subscription"
        except Exception as exc:
            closed = close_code(exc)
            if closed is not None and closed[0] in _AUTH_CLOSE_CODES:
                refused(closed[0], closed[1] or "the live stream refused the credential", api_key)
            reason = f"{type(exc).__name__}: {exc}"
        err_console.print(
            f"[yellow]disconnected ({reason}); reconnecting in {backoff:.1f}s "
            f"from seq {last if last is not None else 'now'}[/]",
            highlight=False,
        )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, _MAX_BACKOFF_S)


def close_code(exc: BaseException) -> tuple[int, str] | None:
    """(code, reason) of the WebSocket close behind ``exc``, if the server closed it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        rcvd = getattr(current, "rcvd", None)  # websockets.exceptions.ConnectionClosed
        if rcvd is not None and getattr(rcvd, "code", None) is not None:
            return int(rcvd.code), str(getattr(rcvd, "reason", "") or "")
        current = current.__cause__ or current.__context__
    return None


def _print(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
        sys.stdout.flush()
    else:
        console.print(format_line(event), highlight=False, soft_wrap=True)
        sys.stdout.flush()


def _current_last_seq(url: str, api_key: str | None) -> int | None:
    try:
        return int(graphql(url, api_key, LAST_SEQ_QUERY, {})["overview"]["lastSeq"])
    except typer.Exit as exc:
        if exc.exit_code == AUTH_EXIT_CODE:
            raise  # refused: reconnecting would be refused again
        return None  # service not up yet: start live and rely on the reconnect logic
    except Exception:
        return None


def tail(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    run: Annotated[str | None, typer.Option(help="Only this run id.")] = None,
    types: Annotated[
        str | None, typer.Option(help="Comma-separated event types, e.g. run.failed,log.")
    ] = None,
    after_seq: Annotated[
        int | None,
        typer.Option("--after-seq", help="Replay stored events after this seq, then follow."),
    ] = None,
    count: Annotated[int | None, typer.Option(help="Exit after this many events.")] = None,
    seconds: Annotated[
        float | None, typer.Option("--for", help="Exit after this many seconds.")
    ] = None,
    url: UrlOption = "http://127.0.0.1:8000",
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print events as they are committed, one line each (NDJSON with --json)."""
    type_list = [t.strip() for t in types.split(",") if t.strip()] if types else None
    variables = {"pipeline": pipeline, "run": run, "types": type_list}
    api_key = api_key_of(api_key)
    start = after_seq if after_seq is not None else _current_last_seq(url, api_key)
    follow = _follow(url, api_key, variables, start, count, as_json)
    started = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt, TimeoutError):
        asyncio.run(asyncio.wait_for(follow, seconds) if seconds else follow)
    if not as_json:
        err_console.print(f"[dim]tail ended after {time.monotonic() - started:.1f}s[/]")
