"""Shared execution of live subscriptions over WebSocket (both subprotocols).

Strawberry's stock handlers run one GraphQL execution per subscriber per event and
JSON-encode each result separately (~100+ µs each), which caps fan-out at a few
thousand messages a second per core. These handlers recognise the two live root fields
(``events``, ``runUpdated``), subscribe to the hub directly and render each event once
per *distinct subscription* — same document, same variables (``afterSeq`` aside, it
only decides where the stream starts) and same visibility — keeping the serialized
``payload`` text on the shared event object (``LiveItem.memo``). Every subscriber then
only wraps that text in its protocol envelope and writes it.

Anything else (queries and mutations over WebSocket, invalid documents, other
subscriptions) goes to strawberry's own handling unchanged, so errors and protocol
edge cases behave exactly as strawberry documents them.

Mount with :func:`live_graphql_router` (or set the two ``*_handler_class`` attributes
on any strawberry async view).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import weakref
from collections.abc import AsyncGenerator, Hashable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLField,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    execute,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import Visitor
from starlette.websockets import WebSocketDisconnect
from strawberry.fastapi import GraphQLRouter
from strawberry.permission import PermissionExtension
from strawberry.schema import BaseSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage as TransportCompleteMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage as LegacyCompleteMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ErrorMessage as LegacyErrorMessage,
)

from tracegraph.api.graphql.deltas import delta_scope, entity_delta_of
from tracegraph.api.graphql.errors import BadArgument, subscription_closed
from tracegraph.api.graphql.hardening import count_fields, websocket_rate_error
from tracegraph.api.graphql.masking import formatted_errors
from tracegraph.api.graphql.subscriptions import event_of, live_hub, run_of
from tracegraph.api.ws_protocol import socket_of
from tracegraph.auth import Permission
from tracegraph.live.deltas import DeltaItem, variant_for
from tracegraph.live.hub import EventFilter, LiveItem, RunFilter, RunUpdate, SubscriberClosed

log = structlog.get_logger(__name__)

DELTA_FIELDS = ("runChanged", "pipelineChanged", "breachChanged")
_LIVE_FIELDS = ("events", "runUpdated", *DELTA_FIELDS)
# Arguments that only decide where a stream starts: left out of the sharing key.
_RESUME_ARGS = frozenset({"afterSeq", "afterVersion", "known"})
# Process-wide counters (tests and the benchmark check that rendering is shared).
STATS: dict[str, int] = {"shared": 0, "fallback": 0, "renders": 0, "closed_slow": 0}
# The close code of a socket whose subscriber was too slow (its last text message is
# the error with the seq to resume from).
CLOSE_SUBSCRIBER_TOO_SLOW = 4008
# Sending to a connection that has gone away raises one of these, depending on the server.
_GONE = (WebSocketDisconnect, OSError, RuntimeError)


@dataclass(frozen=True, slots=True)
class _Document:
    """A parsed, validated live subscription document (cached per query text)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    field_node: FieldNode
    field_def: GraphQLField
    field_name: str
    # Variables that only feed a resume argument (afterSeq, afterVersion, known): left
    # out of the sharing key.
    resume_variables: frozenset[str]
    # Permissions the field's guards demand (checked here against the principal).
    required: tuple[Permission, ...] = ()


@dataclass(frozen=True, slots=True)
class SharedSubscription:
    """One subscriber's plan: where it starts, what it filters and how it renders."""

    doc: _Document
    variables: dict[str, Any]
    operation_name: str | None
    field_name: str
    args: dict[str, Any]
    render_key: Hashable


class _VariableUses(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.counts[node.name.value] = self.counts.get(node.name.value, 0) + 1


def _visibility(context: Any) -> Hashable:
    """What of the context can change a rendered result: the principal's permissions.

    Fields answer by permission only (prompt and response text need read:prompts), so
    every viewer shares one render and every reviewer another, never one with the other.
    """
    principal = (
        context.get("principal")
        if isinstance(context, dict)
        else getattr(context, "principal", None)
    )
    permissions = getattr(principal, "permissions", None)
    if isinstance(permissions, frozenset):
        return ("permissions", tuple(sorted(map(str, permissions))))
    for name in ("role", "roles", "principal"):
        value = context.get(name) if isinstance(context, dict) else getattr(context, name, None)
        if value is not None:
            return _hashable(value)
    return None


def _reads_prompts(context: Any) -> bool:
    """Whether the subscriber sees prompt and response text (its delta variant)."""
    principal = getattr(context, "principal", None)
    return principal is not None and bool(principal.can(Permission.READ_PROMPTS))


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list | set | frozenset | tuple):
        return tuple(sorted(map(str, value)))
    return value if isinstance(value, Hashable) else repr(value)


class SharedSubscriptions:
    """Plans and renders live subscriptions for one schema."""

    def __init__(self, schema: BaseSchema) -> None:
        self._schema = schema
        # The graphql-core schema behind strawberry's: BaseSchema does not declare it (only
        # strawberry.Schema has it), and graphql-core's execute needs it.
        self._gql = schema._schema  # type: ignore[attr-defined]
        # The document limits of the schema (depth, aliases, cost, tokens, introspection:
        # tracegraph.api.graphql.hardening) apply here exactly as on strawberry's path.
        self._rules = list(getattr(schema, "document_rules", ()))
        self._max_tokens: int | None = getattr(schema, "max_tokens", None)
        self._max_fields: int | None = getattr(schema, "max_fields", None)
        settings = getattr(schema, "settings", None)
        self._timeout_s: float = settings.query_timeout_s if settings else 0.0
        self._retry_after_s: int = settings.retry_after_s if settings else 1
        # How long a socket may stay backlogged before its subscriber is given up on.
        self.stall_s: float = settings.ws_stall_timeout_s if settings else 10.0
        self._parse = functools.lru_cache(maxsize=512)(self._parse_uncached)

    def _parse_uncached(self, query: str, operation_name: str | None) -> _Document | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        # Invalid documents go to strawberry, which reports the errors per protocol; one
        # over the field limit must not be validated here first (hardening.MaxFieldsLimiter).
        if self._max_fields is not None and count_fields(document) > self._max_fields:
            return None
        if validate(self._gql, document, [*specified_rules, *self._rules]):
            return None
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            ops = [o for o in ops if o.name is not None and o.name.value == operation_name]
        if len(ops) != 1 or ops[0].operation is not OperationType.SUBSCRIPTION:
            return None
        op = ops[0]
        selections = op.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            return None
        field_node = selections[0]
        name = field_node.name.value
        if name not in _LIVE_FIELDS or field_node.directives:
            return None
        field_def = self._gql.subscription_type.fields[name]
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        # Permission guards built by tracegraph.api.graphql.permissions.allow are checked
        # here against the principal; any other extension must run: strawberry's path.
        guards: list[Any] = list(getattr(definition, "permission_classes", None) or ())
        for ext in getattr(definition, "extensions", None) or ():
            if not isinstance(ext, PermissionExtension) or ext.fail_silently:
                return None
            guards.extend(ext.permissions)
        if any(not isinstance(getattr(g, "required", None), Permission) for g in guards):
            return None
        required = tuple(dict.fromkeys(g.required for g in guards))
        resume_vars: set[str] = set()
        for arg in field_node.arguments or ():
            if arg.name.value in _RESUME_ARGS and isinstance(arg.value, VariableNode):
                uses = _VariableUses()
                # Count uses (in the operation's selections and any fragment), not the
                # variable's own definition.
                visit(op.selection_set, uses)
                for d in document.definitions:
                    if not isinstance(d, OperationDefinitionNode):
                        visit(d, uses)
                if uses.counts.get(arg.value.name.value) == 1:
                    resume_vars.add(arg.value.name.value)
        return _Document(
            document, op, field_node, field_def, name, frozenset(resume_vars), required
        )

    def plan(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
    ) -> SharedSubscription | None:
        """A shared plan, or None to let strawberry handle the operation as usual."""
        try:
            sub = self._plan(query, variables, operation_name, context)
        except Exception:
            # A document this fast path misreads must still be served: strawberry's own
            # path handles everything, only slower.
            log.exception("shared subscription plan failed; using the generic path")
            sub = None
        STATS["fallback" if sub is None else "shared"] += 1
        return sub

    def _plan(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Any,
    ) -> SharedSubscription | None:
        if not isinstance(query, str):
            return None
        doc = self._parse(query, operation_name)
        if doc is None:
            return None
        principal = getattr(context, "principal", None)
        if doc.required and not (principal and all(map(principal.can, doc.required))):
            return None  # strawberry's path answers with the permission error
        variables = dict(variables or {})
        coerced = get_variable_values(
            self._gql, doc.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            return None  # strawberry reports the variable errors
        try:
            args = get_argument_values(doc.field_def, doc.field_node, coerced)
        except GraphQLError:
            return None
        if doc.field_name in DELTA_FIELDS:
            try:
                delta_scope(doc.field_name, args)
            except BadArgument:
                return None  # strawberry's path answers with the argument error
        shared_vars = {k: v for k, v in variables.items() if k not in doc.resume_variables}
        try:
            var_key = orjson.dumps(shared_vars, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        render_key = ("live", query, operation_name, var_key, _visibility(context))
        return SharedSubscription(doc, variables, operation_name, doc.field_name, args, render_key)

    async def stream(
        self, sub: SharedSubscription, context: Any
    ) -> AsyncGenerator[tuple[int, str], None]:
        """The seq and ``payload`` JSON text of each result, rendered once per event and
        key (the seq of a run update is the last one committed when it was read)."""
        hub = live_hub(context)
        args = sub.args
        source: AsyncGenerator[Any, None]
        if sub.field_name == "events":
            flt = EventFilter.of(args.get("pipeline"), args.get("run"), args.get("types"))
            source = hub.events(flt, args.get("afterSeq"))
        elif sub.field_name in DELTA_FIELDS:
            scope, known = delta_scope(sub.field_name, args)
            source = hub.entity_deltas(scope, known, variant_for(_reads_prompts(context)))
        else:
            source = hub.run_updates(RunFilter.of(args.get("run"), args.get("pipeline")))
        async with contextlib.aclosing(source):
            async for item in source:
                text = item.memo.get(sub.render_key)
                if text is None:
                    text = await self._render(sub, item, context)
                elif isinstance(text, asyncio.Future):
                    text = await text  # another subscriber is rendering it right now
                yield item.seq, text

    async def _render(
        self, sub: SharedSubscription, item: LiveItem | RunUpdate | DeltaItem, ctx: Any
    ) -> str:
        STATS["renders"] += 1
        root: Any
        if isinstance(item, LiveItem):
            root = event_of(item)
        elif isinstance(item, DeltaItem):
            root = entity_delta_of(item)
        else:
            root = run_of(item)
        doc = sub.doc
        result: Any = execute(
            self._gql,
            doc.document,
            root_value=root,
            context_value=ctx,
            variable_values=sub.variables,
            operation_name=sub.operation_name,
        )
        if inspect.isawaitable(result):
            # Nested fields that load from the graph: share the pending render too.
            pending: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            item.memo[sub.render_key] = pending
            try:
                result = await result
                text = _payload_text(result, self._timeout_s, self._retry_after_s)
            except BaseException as exc:
                item.memo.pop(sub.render_key, None)
                pending.set_exception(exc)
                pending.exception()  # retrieved: waiters re-raise their own copy
                raise
            pending.set_result(text)
        else:
            text = _payload_text(result, self._timeout_s, self._retry_after_s)
        item.memo[sub.render_key] = text
        return text


def _payload_text(result: Any, timeout_s: float, retry_after_s: int) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = formatted_errors(result.errors, timeout_s, retry_after_s)
    return orjson.dumps(payload).decode()


def _closed_payload(exc: SubscriberClosed) -> str:
    return orjson.dumps({"data": None, "errors": [subscription_closed(exc).formatted]}).decode()


# One per schema (several apps share a test process), kept as long as its schema.
_SHARED: weakref.WeakKeyDictionary[BaseSchema, SharedSubscriptions] = weakref.WeakKeyDictionary()


def _shared_for(schema: BaseSchema) -> SharedSubscriptions:
    shared = _SHARED.get(schema)
    if shared is None:
        shared = _SHARED[schema] = SharedSubscriptions(schema)
    return shared


def _raw_socket(handler: Any) -> Any:
    return getattr(handler.websocket, "ws", None)


class _Delivery:
    """Writes one shared subscription's frames to its socket, and its last word.

    A client that stops reading fills the (bounded, ``ws_protocol``) socket buffers; then
    frames stay in the hub's queue instead of piling up in the socket. If the socket has
    not drained for ``stall_s`` — or the hub closes the subscriber while it is still
    backlogged — the error with the resume point, ``complete`` and a close frame
    (:data:`CLOSE_SUBSCRIBER_TOO_SLOW`) go out at once, right behind the little data in
    flight, before uvicorn's keepalive would cut the connection without a reason. The
    resume point is the last seq actually written to the socket.
    """

    def __init__(
        self, ws: Any, sub: SharedSubscription, prefix: str, complete: str, stall_s: float
    ) -> None:
        self._ws = ws
        self._socket = socket_of(getattr(ws, "scope", None))
        self._prefix = prefix
        self._complete = complete
        self._events = sub.field_name == "events"
        after = sub.args.get("afterSeq") if self._events else None
        self._last_written: int | None = after if isinstance(after, int) else None
        self._stall_s = stall_s

    async def run(self, stream: AsyncGenerator[tuple[int, str], None]) -> bool:
        """Send every result, then the closing error (if any); True when the socket was
        closed here (the caller sends nothing more), False when ``complete`` is due."""
        try:
            async for seq, text in stream:
                if (
                    self._socket is not None
                    and self._socket.backlogged
                    and not await self._socket.wait_writable(self._stall_s)
                ):
                    return self._give_up(self._stalled(seq))
                await self._ws.send_text(self._prefix + text + "}")
                if self._events:
                    self._last_written = seq
        except SubscriberClosed as exc:
            if self._socket is not None and self._socket.backlogged:
                return self._give_up(exc)
            await self._ws.send_text(self._prefix + _closed_payload(exc) + "}")
        return False

    def _stalled(self, unsent_seq: int) -> SubscriberClosed:
        resume = self._last_written
        if resume is None and self._events:
            resume = unsent_seq - 1
        hint = "subscribe again" if resume is None else f"resume with afterSeq={resume}"
        return SubscriberClosed(
            f"subscriber stopped reading for {self._stall_s:g} s; {hint}",
            code="SUBSCRIBER_TOO_SLOW",
            resume_after_seq=resume,
        )

    def _give_up(self, error: SubscriberClosed) -> bool:
        assert self._socket is not None
        STATS["closed_slow"] += 1
        text = self._prefix + _closed_payload(error) + "}"
        reason = "subscriber too slow"
        if error.resume_after_seq is not None:
            reason += f"; resume with afterSeq={error.resume_after_seq}"
        self._socket.send_final([text, self._complete], CLOSE_SUBSCRIBER_TOO_SLOW, reason)
        return True


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """``graphql-transport-ws`` with shared rendering of live subscriptions."""

    async def handle_subscribe(self, message: Any) -> None:
        # Each operation counts against its principal's rate limit; over it, the
        # operation gets an ``error`` message (retryAfter in its extensions).
        if self.connection_acknowledged and message.get("id") not in self.operations:
            payload = message.get("payload") or {}
            error = websocket_rate_error(
                self.context, payload.get("query"), payload.get("operationName")
            )
            if error is not None:
                await self.send_message(
                    TransportErrorMessage(id=message["id"], type="error", payload=[error])
                )
                return
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        ws = _raw_socket(self)
        sub = None
        if ws is not None:
            shared = _shared_for(self.schema)
            sub = shared.plan(
                operation.query, operation.variables, operation.operation_name, self.context
            )
        if sub is None:
            await super().run_operation(operation)
            return
        prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":'
        complete = TransportCompleteMessage(id=operation.id, type="complete")
        delivery = _Delivery(ws, sub, prefix, orjson.dumps(complete).decode(), shared.stall_s)
        try:
            # Same shape as strawberry's path: results, a result with the error, complete.
            if await delivery.run(shared.stream(sub, self.context)):
                operation.completed = True
                self.operations.pop(operation.id, None)
                return
            await operation.send_operation_message(complete)
        except _GONE:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)


class LiveWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """Legacy ``graphql-ws`` with shared rendering of live subscriptions."""

    async def handle_start(self, message: Any) -> None:
        if self.connection_acknowledged:
            payload = message.get("payload") or {}
            error = websocket_rate_error(
                self.context, payload.get("query"), payload.get("operationName")
            )
            if error is not None:
                await self.send_message(
                    LegacyErrorMessage(type="error", id=message["id"], payload=error)
                )
                return
        await super().handle_start(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        ws = _raw_socket(self)
        sub = None
        if ws is not None:
            shared = _shared_for(self.schema)
            sub = shared.plan(query, variables, operation_name, self.context)
        if sub is None:
            await super().handle_async_results(operation_id, query, operation_name, variables)
            return
        prefix = '{"type":"data","id":' + orjson.dumps(operation_id).decode() + ',"payload":'
        complete = LegacyCompleteMessage(type="complete", id=operation_id)
        delivery = _Delivery(ws, sub, prefix, orjson.dumps(complete).decode(), shared.stall_s)
        try:
            if await delivery.run(shared.stream(sub, self.context)):
                return
            await self.send_message(complete)
        except asyncio.CancelledError:
            # A "stop" from the client: confirm it, as strawberry does.
            with contextlib.suppress(*_GONE):
                await self.send_message(complete)
        except _GONE:
            pass
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)


class LiveGraphQLRouter(GraphQLRouter[Any, Any]):
    """strawberry's FastAPI router with the shared live handlers."""

    graphql_transport_ws_handler_class = LiveTransportWSHandler
    graphql_ws_handler_class = LiveWSHandler


def live_graphql_router(schema: BaseSchema, **kwargs: Any) -> LiveGraphQLRouter:
    """The ``/graphql`` router: both subprotocols, and keep-alives for ``graphql-ws``
    (``graphql-transport-ws`` keeps alive with its own ping/pong)."""
    kwargs.setdefault(
        "subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)
    )
    kwargs.setdefault("keep_alive", True)
    kwargs.setdefault("keep_alive_interval", 15)
    return LiveGraphQLRouter(schema, **kwargs)


__all__ = [
    "LiveGraphQLRouter",
    "LiveTransportWSHandler",
    "LiveWSHandler",
    "SharedSubscriptions",
    "live_graphql_router",
]
