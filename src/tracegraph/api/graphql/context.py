"""Per-request GraphQL context: the running services and fresh DataLoaders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from tracegraph.api.authentication import authenticate
from tracegraph.api.graphql.errors import Unauthenticated
from tracegraph.api.graphql.pagination import page_size
from tracegraph.auth import Principal
from tracegraph.ingest.errors import BadRequestBody, DatabaseUnavailable
from tracegraph.live.sessions import Session
from tracegraph.runtime import Services
from tracegraph.store.graph_reads import GraphReads


def _keyed(
    fetch: Callable[[Sequence[Any]], Awaitable[dict[Any, Any]]], default: Any, cache: bool
) -> DataLoader[Any, Any]:
    async def load(keys: list[Any]) -> list[Any]:
        found = await fetch(list(dict.fromkeys(keys)))
        return [found.get(k, default() if callable(default) else default) for k in keys]

    return DataLoader(load_fn=load, cache=cache)


class Loaders:
    """One batch statement per nested field shape; created per request (per operation on
    WebSockets, where ``cache`` is off so live updates are never served stale)."""

    def __init__(self, reads: GraphReads, cache: bool = True) -> None:
        self.pipeline_by_name = _keyed(reads.pipelines_by_name, None, cache)
        self.pipeline_links = _keyed(
            reads.pipeline_links, lambda: {"owner": None, "sla": None, "steps": []}, cache
        )
        self.step_by_id = _keyed(reads.steps_by_id, None, cache)
        self.step_links = _keyed(
            reads.step_links, lambda: {"depends_on": [], "owner": None, "sla": None}, cache
        )
        self.run_by_id = _keyed(reads.runs_by_id, None, cache)
        self.step_runs_of_run = _keyed(reads.step_runs_of_runs, list, cache)
        self.step_run_links = _keyed(
            reads.step_run_links, lambda: {"llm_calls": [], "reads": [], "writes": []}, cache
        )

        async def runs_of_pipelines(keys: list[tuple[str, int]]) -> list[list[dict]]:
            by_first: dict[int, list[str]] = defaultdict(list)
            for name, first in dict.fromkeys(keys):
                by_first[first].append(name)
            found: dict[tuple[str, int], list[dict]] = {}
            for first, names in by_first.items():
                for name, runs in (await reads.runs_of_pipelines(names, first)).items():
                    found[(name, first)] = runs
            return [found.get(k, []) for k in keys]

        self.runs_of_pipeline: DataLoader[tuple[str, int], list[dict]] = DataLoader(
            load_fn=runs_of_pipelines, cache=cache
        )


class Context(BaseContext):
    def __init__(self, services: Services, principal: Principal | None, cache: bool = True) -> None:
        super().__init__()
        self.services = services
        # None on a WebSocket until connection_init authenticates it.
        self.principal = principal
        # WebSockets: the credential of connection_init (re-checked per operation) and
        # the socket's entry in the session registry (tracegraph.live.sessions).
        self.credential: str | None = None
        self.ws_session: Session | None = None
        self.loaders = Loaders(services.reads, cache=cache)

    @property
    def signed_in(self) -> Principal:
        """The caller (fields behind a permission class always have one)."""
        if self.principal is None:
            raise Unauthenticated("sign in first: no credential was accepted")
        return self.principal

    @property
    def actor(self) -> str:
        return self.signed_in.actor

    def page_size(self, first: int) -> int:
        """``first`` checked and capped at ``max_page_size``."""
        return page_size(first, self.services.settings.max_page_size)


MIN_SEQ_HEADER = "X-Tracegraph-Min-Seq"


async def get_context(conn: HTTPConnection) -> Context:
    """FastAPI dependency (HTTP and WebSocket alike); strawberry fills in request etc.

    HTTP requests authenticate here (401 otherwise), except a browser's plain GET of the
    GraphiQL page, which holds no data. WebSockets authenticate in ``connection_init``
    (``on_ws_connect``); strawberry checks their Origin (``allowed_origins``).
    """
    services: Services = conn.app.state.services
    if conn.scope["type"] == "websocket":
        return Context(services, None, cache=False)
    if _is_graphiql_page(conn) and services.settings.mode == "development":
        return Context(services, None)
    principal = await authenticate(conn)
    await _read_your_writes(conn, services)
    return Context(services, principal)


async def _read_your_writes(conn: HTTPConnection, services: Services) -> None:
    """``X-Tracegraph-Min-Seq: N`` (the ``last_seq`` an ingest answered, on any replica):
    answer only once this replica has seen seq N (docs/deployment.md), so a client
    that just ingested through another replica reads its own writes. 503 + Retry-After
    when it has not within ``TRACEGRAPH_DATABASE_ANSWER_TIMEOUT_S``."""
    header = conn.headers.get(MIN_SEQ_HEADER)
    if header is None:
        return
    try:
        seq = int(header)
    except ValueError:
        raise BadRequestBody(
            f"{MIN_SEQ_HEADER} must be a seq (an integer), not {header!r}"
        ) from None
    settings = services.settings
    if not await services.hub.caught_up(seq, settings.database_answer_timeout_s):
        raise DatabaseUnavailable(
            f"this replica has not seen seq {seq} yet; retry", settings.retry_after_s
        )


def _is_graphiql_page(conn: HTTPConnection) -> bool:
    return (
        conn.scope.get("method") == "GET"
        and "query" not in conn.query_params
        and "text/html" in conn.headers.get("accept", "")
    )
