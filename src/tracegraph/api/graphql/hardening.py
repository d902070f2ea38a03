"""Hardened GraphQL: document limits, query cost, introspection, masking, rate limits.

Every limit comes from :class:`~tracegraph.settings.Settings` (see :class:`HardenedSchema`):

* **tokens** (``graphql_max_tokens``): graphql-core's parser stops at that many tokens
  (strawberry's ``MaxTokensLimiter``).
* **fields** (``graphql_max_fields``): counted on the parsed document, before validation
  runs (:class:`MaxFieldsLimiter`). Validation compares fields pairwise (overlapping fields
  must merge), so a 900-field document cost ~1 s of CPU to validate, well inside the
  token limit and before any validation rule could refuse it.
* **depth** (``graphql_max_depth``), **aliases** (``graphql_max_aliases``) and **cost**
  (``graphql_max_cost``): one validation rule, :func:`document_limits_rule`. strawberry's
  ``QueryDepthLimiter``/``MaxAliasesLimiter`` walk fragment spreads without memory, so
  ``fragment F0 { ...F1 ...F1 } fragment F1 { ...F2 ...F2 } …`` takes exponential time
  (22 fragments: 15 s of CPU); this rule measures each fragment once.
* **introspection** off in production (graphql-core's ``NoSchemaIntrospectionCustomRule``,
  what strawberry's ``DisableIntrospection`` adds), and so are the "Did you mean …"
  suggestions of validation and variable errors, which name real fields, arguments,
  types and enum values (graphql-core's ``hide_suggestions``; :class:`ValidateDocument`).
* **masking** of internal errors (:mod:`tracegraph.api.graphql.masking`).
* **rate limits** per principal (:class:`RateLimitOperations` over HTTP, counting every
  operation before it is parsed, valid or not; :func:`websocket_rate_error` per
  WebSocket operation).

Cost model (an upper-bound estimate made before execution, no database involved): every
field costs 1; a field with a selection set costs 1 + n * (the cost of its selection),
where n is

* the field's ``first`` argument when it has one: the literal, else the schema default,
  capped at ``max_page_size`` (a variable counts as the cap: validation sees no values);
* 1 for ``edges`` of a ``…Connection`` (its field's ``first`` already counted);
* ``lineage_max_nodes`` for the lists of ``LineageGraph`` and ``Impact`` (answers are
  cut at that many nodes), ``MAX_BUCKETS`` for ``Metrics.series``;
* :data:`DEFAULT_LIST_SIZE` for any other list (steps of a run, LLM calls of a step
  run, …), and 1 for a single object.

So ``runs(first: 200) { edges { node { steps { llmCalls { id } } } } }`` is estimated
at 1 + 200 * (1 + 1 + 1 + 10 * (1 + 10 * 1)) = 22,601, and nesting one more level of
``first: 200`` lists multiplies by 200 again. Counts saturate at :data:`CEILING`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLFormattedError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    ValidationRule,
    VariableNode,
    get_named_type,
    parse,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from tracegraph.api.graphql.errors import (
    QUERY_TOO_COSTLY,
    QUERY_TOO_DEEP,
    RATE_LIMITED,
    TOO_MANY_ALIASES,
    TOO_MANY_FIELDS,
)
from tracegraph.api.graphql.masking import MaskInternalErrors, is_client_error
from tracegraph.api.graphql.metrics_types import MAX_BUCKETS
from tracegraph.api.graphql.scalars import SCALAR_MAP
from tracegraph.api.rate_limit import Bucket, RateLimited, rate_limits_of
from tracegraph.settings import Settings

DEFAULT_LIST_SIZE = 10
# Counts saturate here: a hostile document can describe astronomically large answers
# (fragments spread twice in a chain double the count at every link).
CEILING = 10**15
INGEST_FIELDS = frozenset({"ingestEvents"})


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_cost: int
    page_cap: int
    node_bound: int
    default_list_size: int = DEFAULT_LIST_SIZE

    @classmethod
    def of(cls, settings: Settings) -> DocumentLimits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_cost=settings.graphql_max_cost,
            page_cap=settings.max_page_size,
            node_bound=settings.lineage_max_nodes,
        )

    def list_bound(self, parent: str, field: str) -> int:
        if field == "edges" and parent.endswith("Connection"):
            return 1
        if parent in ("LineageGraph", "Impact"):
            return self.node_bound
        if (parent, field) == ("Metrics", "series"):
            return MAX_BUCKETS
        return self.default_list_size


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set adds up to: nesting depth, aliases and estimated cost."""

    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth),
            min(self.aliases + other.aliases, CEILING),
            min(self.cost + other.cost, CEILING),
        )


class _Measurer:
    """Measures operations of one document; each fragment is measured once."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, limits: DocumentLimits):
        self.schema = schema
        self.limits = limits
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._done: dict[str, Measure] = {}
        self._active: set[str] = set()

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> Measure:
        total = Measure()
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += self.field(sel, parent)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                typ = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selections(sel.selection_set, typ or parent)
            elif isinstance(sel, FragmentSpreadNode):
                total += self.fragment(sel.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        if name in self._done:
            return self._done[name]
        frag = self.fragments.get(name)
        if frag is None or name in self._active:
            return Measure()  # unknown fragment or a cycle: other rules report those
        self._active.add(name)
        typ = self.schema.get_type(frag.type_condition.name.value)
        measure = self.selections(frag.selection_set, typ)
        self._active.discard(name)
        self._done[name] = measure
        return measure

    def field(self, node: FieldNode, parent: Any) -> Measure:
        aliases = 1 if node.alias else 0
        name = node.name.value
        if node.selection_set is None:
            return Measure(0, aliases, 1)
        field_def = self._field_def(parent, name)
        if field_def is None:
            inner = self.selections(node.selection_set, None)
            return Measure(inner.depth + 1, aliases + inner.aliases, 1 + inner.cost)
        inner = self.selections(node.selection_set, get_named_type(field_def.type))
        depth = 0 if name.startswith("__") else inner.depth + 1
        n = self._multiplier(node, field_def, getattr(parent, "name", ""), name)
        return Measure(
            depth, min(aliases + inner.aliases, CEILING), min(1 + n * inner.cost, CEILING)
        )

    def _field_def(self, parent: Any, name: str) -> GraphQLField | None:
        if name == "__schema" and parent is self.schema.query_type:
            return SchemaMetaFieldDef
        if name == "__type" and parent is self.schema.query_type:
            return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        return None

    def _multiplier(self, node: FieldNode, field_def: GraphQLField, parent: str, name: str) -> int:
        first = field_def.args.get("first")
        if first is not None:
            return self._first(node, first.default_value)
        typ, lists = field_def.type, 0
        while isinstance(typ, GraphQLNonNull | GraphQLList):
            lists += isinstance(typ, GraphQLList)
            typ = typ.of_type
        return self.limits.list_bound(parent, name) ** lists if lists else 1

    def _first(self, node: FieldNode, default: Any) -> int:
        cap = self.limits.page_cap
        value: Any = default if isinstance(default, int) else cap
        for arg in node.arguments or ():
            if arg.name.value == "first":
                if isinstance(arg.value, IntValueNode):
                    value = int(arg.value.value)
                elif isinstance(arg.value, VariableNode):
                    value = cap
        return max(0, min(int(value), cap))


def document_limits_rule(limits: DocumentLimits) -> type[ASTValidationRule]:
    """A validation rule refusing operations over the depth, alias or cost limit."""

    class DocumentLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> Any:
            ctx = self.context
            measurer = _Measurer(ctx.schema, node, limits)
            for op in node.definitions:
                if not isinstance(op, OperationDefinitionNode):
                    continue
                root = ctx.schema.get_root_type(op.operation)
                if root is None:
                    continue
                m = measurer.selections(op.selection_set, root)
                label = f"operation '{op.name.value}'" if op.name else "the operation"
                if m.depth > limits.max_depth:
                    self.report_error(
                        GraphQLError(
                            f"{label} is nested {m.depth} levels deep; the limit is "
                            f"{limits.max_depth}",
                            op,
                            extensions={
                                "code": QUERY_TOO_DEEP,
                                "depth": m.depth,
                                "limit": limits.max_depth,
                            },
                        )
                    )
                if m.aliases > limits.max_aliases:
                    self.report_error(
                        GraphQLError(
                            f"{label} uses {m.aliases} aliases; the limit is {limits.max_aliases}",
                            op,
                            extensions={
                                "code": TOO_MANY_ALIASES,
                                "aliases": m.aliases,
                                "limit": limits.max_aliases,
                            },
                        )
                    )
                if m.cost > limits.max_cost:
                    self.report_error(
                        GraphQLError(
                            f"{label} has an estimated cost of {m.cost:,}; the limit is "
                            f"{limits.max_cost:,} (each field costs 1, list fields multiply "
                            "their selection by `first` or their size bound: ask for fewer "
                            "items or fewer nested lists)",
                            op,
                            extensions={
                                "code": QUERY_TOO_COSTLY,
                                "cost": m.cost,
                                "limit": limits.max_cost,
                            },
                        )
                    )
            return self.SKIP

    return DocumentLimitsRule


def estimate(schema: GraphQLSchema, query: str, limits: DocumentLimits) -> Measure:
    """Depth, aliases and cost of a document's operations (all operations summed)."""
    document = parse(query)
    measurer = _Measurer(schema, document, limits)
    total = Measure()
    for op in document.definitions:
        if isinstance(op, OperationDefinitionNode):
            total += measurer.selections(op.selection_set, schema.get_root_type(op.operation))
    return total


# --- rate limits -------------------------------------------------------------------


def operation_bucket(document: DocumentNode | None, operation_name: str | None) -> Bucket:
    """``ingest`` for a mutation that ingests events, else ``read``."""
    for op in document.definitions if document else ():
        if not isinstance(op, OperationDefinitionNode):
            continue
        if operation_name is not None and (op.name is None or op.name.value != operation_name):
            continue
        if op.operation is OperationType.MUTATION and any(
            isinstance(s, FieldNode) and s.name.value in INGEST_FIELDS
            for s in op.selection_set.selections
        ):
            return "ingest"
    return "read"


def rate_limited_error(exc: RateLimited) -> GraphQLError:
    return GraphQLError(
        str(exc),
        extensions={
            "code": RATE_LIMITED,
            "retryAfter": exc.retry_after_s,
            "bucket": exc.bucket,
        },
    )


class RateLimitOperations(SchemaExtension):
    """Counts each GraphQL-over-HTTP operation against its principal's bucket before
    anything else is done with it, so invalid documents (which never execute) count as
    much as valid ones; over the limit the answer is 429 with ``Retry-After`` and the
    document is neither validated nor executed. WebSocket operations are counted by the
    WebSocket handlers instead.

    The document is parsed here (bounded by the token limit, cached by query text) to
    pick the bucket, and handed to strawberry, which then does not parse it again."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        ctx = ec.context
        request = getattr(ctx, "request", None)
        principal = getattr(ctx, "principal", None)
        if request is not None and principal is not None and request.scope["type"] == "http":
            document = _parse_cached(ec.query, self.max_tokens) if ec.query else None
            if document is not None and ec.graphql_document is None:
                ec.graphql_document = document
            bucket = operation_bucket(document, ec.operation_name)
            try:
                rate_limits_of(request.app).hit(bucket, principal)
            except RateLimited as exc:
                response = getattr(ctx, "response", None)
                if response is not None:
                    response.status_code = 429
                    response.headers["Retry-After"] = str(exc.retry_after_s)
                # Raised before strawberry parses or validates: it answers this error.
                raise rate_limited_error(exc) from None
        yield


def count_fields(document: DocumentNode) -> int:
    """Fields written in a document (operations and fragments, each fragment once)."""
    count = 0
    stack = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while stack:
        selection_set = stack.pop()
        if selection_set is None:
            continue
        for sel in selection_set.selections:
            count += isinstance(sel, FieldNode)
            stack.append(getattr(sel, "selection_set", None))
    return count


def too_many_fields_error(fields: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"the document selects {fields} fields; the limit is {limit} (ask for fewer "
        "fields, or split the query)",
        extensions={"code": TOO_MANY_FIELDS, "fields": fields, "limit": limit},
    )


class MaxFieldsLimiter(SchemaExtension):
    """Refuses a document with more than ``max_fields`` fields once it is parsed, before
    validation runs: validation's cost grows with the square of the field count.

    The refusal is the operation's pre-execution error (as a validation error would be),
    which strawberry reports on every transport; :class:`ValidateDocument` then skips."""

    def __init__(self, max_fields: int) -> None:
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.pre_execution_errors is None:
            fields = count_fields(ec.graphql_document)
            if fields > self.max_fields:
                ec.pre_execution_errors = [too_many_fields_error(fields, self.max_fields)]
        yield


@functools.lru_cache(maxsize=512)
def _validate_cached(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class ValidateDocument(SchemaExtension):
    """Validation (cached like strawberry's ``ValidationCache``), with graphql-core's
    "Did you mean …" suggestions hidden when ``hide_suggestions`` (production)."""

    def __init__(self, hide_suggestions: bool) -> None:
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.pre_execution_errors is not None:  # refused before validation
            yield
            return
        assert ec.graphql_document is not None
        # The two rules strawberry adds to every validation (see its validate_document).
        rules = (*ec.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule)
        ec.pre_execution_errors = _validate_cached(
            ec.schema._schema, ec.graphql_document, rules, self.hide_suggestions
        )
        yield


def websocket_rate_error(
    context: Any, query: Any, operation_name: str | None
) -> GraphQLFormattedError | None:
    """Counts one WebSocket operation; the formatted error when over the limit."""
    principal = getattr(context, "principal", None)
    request = getattr(context, "request", None)
    if principal is None or request is None:
        return None  # not acknowledged yet: the protocol handler refuses the operation
    max_tokens = context.services.settings.graphql_max_tokens
    document = _parse_cached(query, max_tokens) if isinstance(query, str) else None
    bucket = operation_bucket(document, operation_name)
    try:
        rate_limits_of(request.app).hit(bucket, principal)
    except RateLimited as exc:
        return rate_limited_error(exc).formatted
    return None


# Documents up to this size are cached by their text. Longer ones (the body limit allows
# 1 MiB of comments and whitespace around the tokens) are parsed each time instead:
# 512 cached keys of 1 MiB each would hold half a GiB.
CACHEABLE_QUERY_CHARS = 64 * 1024


def _parse_cached(query: str, max_tokens: int) -> DocumentNode | None:
    if len(query) > CACHEABLE_QUERY_CHARS:
        return _parse(query, max_tokens)
    return _parse_small(query, max_tokens)


def _parse(query: str, max_tokens: int) -> DocumentNode | None:
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None  # strawberry parses it again and reports the error; it counts as a read


_parse_small = functools.lru_cache(maxsize=512)(_parse)


# --- the schema --------------------------------------------------------------------


class HardenedSchema(strawberry.Schema):
    """A strawberry schema carrying its document limits, so the shared subscription
    path (:mod:`tracegraph.api.graphql.live_ws`) applies exactly the same ones."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings
        self.document_rules: tuple[type[ASTValidationRule], ...] = validation_rules(settings)
        self.max_tokens = settings.graphql_max_tokens
        self.max_fields = settings.graphql_max_fields
        self.hide_suggestions = settings.mode == "production"
        super().__init__(
            extensions=schema_extensions(settings, self.document_rules),
            config=StrawberryConfig(scalar_map=SCALAR_MAP),
            **kwargs,
        )

    def _get_custom_context_kwargs(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Passed to graphql-core's execute/subscribe: variable values are coerced there,
        # and their errors suggest enum values and input fields too.
        custom = super()._get_custom_context_kwargs(*args, **kwargs)
        if self.hide_suggestions:
            custom["hide_suggestions"] = True
        return custom

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Client errors (validation, refusals, rate limits) are the client's business;
        # internal ones are logged with their errorId by MaskInternalErrors.
        internal = [e for e in errors if not is_client_error(e)]
        if internal:
            super().process_errors(internal, execution_context)


def validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The extra validation rules (built once per schema, so ValidationCache hits)."""
    rules: list[type[ASTValidationRule]] = [document_limits_rule(DocumentLimits.of(settings))]
    if settings.mode == "production":
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def schema_extensions(
    settings: Settings, rules: tuple[type[ASTValidationRule], ...]
) -> list[Callable[[], SchemaExtension]]:
    """Extension factories (a fresh instance per operation)."""
    max_tokens = settings.graphql_max_tokens
    max_fields = settings.graphql_max_fields
    hide_suggestions = settings.mode == "production"
    timeout_s = settings.query_timeout_s
    return [
        # First: every operation is counted before any other work is done for it (the
        # parse it does for the bucket is cached by query text and reused by strawberry).
        lambda: RateLimitOperations(max_tokens),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: MaxFieldsLimiter(max_fields),
        lambda: AddValidationRules(list(rules)),
        lambda: ValidateDocument(hide_suggestions),
        lambda: MaskInternalErrors(timeout_s, settings.retry_after_s),
    ]


__all__ = [
    "DEFAULT_LIST_SIZE",
    "DocumentLimits",
    "HardenedSchema",
    "MaxFieldsLimiter",
    "Measure",
    "RateLimitOperations",
    "ValidateDocument",
    "count_fields",
    "document_limits_rule",
    "estimate",
    "operation_bucket",
    "too_many_fields_error",
    "websocket_rate_error",
]
