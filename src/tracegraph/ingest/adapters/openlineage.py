"""OpenLineage RunEvent / DatasetEvent / JobEvent -> Tracegraph events (pure translation).

Mapping (see docs/adapters.md for the full table):

- A job is a pipeline named `<namespace>/<name>` (characters outside ``[A-Za-z0-9._-/:@]``
  become ``-``). A run with a ``parent`` run facet is a *step* (key: the job name) of the
  parent job's pipeline, inside our run ``parent.run.runId``; otherwise it is a pipeline run
  whose id is its ``runId``.
- eventType START -> run.started / step.started, RUNNING -> log / step.progress,
  COMPLETE -> run.completed / step.completed, FAIL -> run.failed / step.failed (error from
  the ``errorMessage`` facet), ABORT -> run.cancelled / step.failed (reason ``aborted``: the
  contract has no step.cancelled), OTHER (or none) -> log.
- Every input is an artifact.read, every output an artifact.written, in the same run/step.
- DatasetEvent -> a ``log`` event carrying the dataset's metadata (the contract has no
  run-less artifact event). JobEvent -> pipeline.defined with no steps.

Event ids hash the source event's identity, so a retried OpenLineage event maps to the same
events and is acknowledged as duplicates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tracegraph.events.errors import format_loc
from tracegraph.events.fields import format_timestamp
from tracegraph.ingest.adapters import sanitize_name, stable_id

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
NonEmpty = Annotated[str, Field(min_length=1)]


class MalformedOpenLineage(ValueError):
    """The request is not valid OpenLineage; `str()` is one line naming the field."""


# -- the parts of the spec we read (extra keys allowed: facets are open-ended) ------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class JobRef(_Model):
    namespace: str
    name: NonEmpty


# Field names follow the spec's camelCase so the models read the wire format as is.
class RunRef(_Model):
    runId: NonEmpty


class RootRef(_Model):
    run: RunRef
    job: JobRef


class ParentRunFacet(_Model):
    run: RunRef
    job: JobRef
    # The root of a nested chain (ParentRunFacet 1-1-0+): a grandchild names it.
    root: RootRef | None = None


class ColumnTransformation(_Model):
    type: str | None = None
    subtype: str | None = None
    description: str | None = None
    masking: bool | None = None


class InputFieldRef(_Model):
    namespace: str
    name: NonEmpty
    field: NonEmpty
    transformations: list[ColumnTransformation] | None = None


class ColumnFieldLineage(_Model):
    inputFields: list[InputFieldRef] = Field(default_factory=list)
    transformationDescription: str | None = None
    transformationType: str | None = None


class ColumnLineageFacet(_Model):
    fields: dict[str, ColumnFieldLineage] = Field(default_factory=dict)


class ErrorMessageRunFacet(_Model):
    message: str
    programmingLanguage: str | None = None
    stackTrace: str | None = None


class OwnershipOwner(_Model):
    name: NonEmpty
    type: str | None = None


class OwnershipFacet(_Model):
    owners: list[OwnershipOwner] | None = None


class DocumentationFacet(_Model):
    description: str | None = None


class DatasetVersionFacet(_Model):
    datasetVersion: str | int


class StatisticsFacet(_Model):
    rowCount: int | None = Field(None, ge=0)
    size: int | None = Field(None, ge=0)


Facets = dict[str, Any]


class Run(_Model):
    runId: NonEmpty
    facets: Facets = Field(default_factory=dict)


class Job(JobRef):
    facets: Facets = Field(default_factory=dict)


class Dataset(_Model):
    namespace: str
    name: NonEmpty
    facets: Facets = Field(default_factory=dict)
    inputFacets: Facets = Field(default_factory=dict)
    outputFacets: Facets = Field(default_factory=dict)


class _BaseEvent(_Model):
    eventTime: datetime
    producer: str = "unknown"

    @field_validator("eventTime")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # The spec asks for RFC 3339; emitters that drop the offset mean UTC in practice.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    @field_validator("eventTime", mode="before")
    @classmethod
    def _no_numbers(cls, value: Any) -> Any:
        if isinstance(value, (int, float)):
            raise ValueError("must be an ISO 8601 / RFC 3339 timestamp string")
        return value


class RunEvent(_BaseEvent):
    eventType: EventType | None = None
    run: Run
    job: Job
    inputs: list[Dataset] = Field(default_factory=list)
    outputs: list[Dataset] = Field(default_factory=list)

    @field_validator("eventType", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class DatasetEvent(_BaseEvent):
    dataset: Dataset


class JobEvent(_BaseEvent):
    job: Job
    inputs: list[Dataset] = Field(default_factory=list)
    outputs: list[Dataset] = Field(default_factory=list)


AnyOpenLineageEvent = RunEvent | DatasetEvent | JobEvent


# -- validation ------------------------------------------------------------------------------


def _first_error(exc: ValidationError, prefix: tuple[str | int, ...]) -> str:
    err = exc.errors()[0]
    return f"{format_loc((*prefix, *err['loc']))}: {err['msg']}"


M = TypeVar("M", bound=BaseModel)


def _facet(model: type[M], facets: Facets, key: str, loc: tuple[str | int, ...]) -> M | None:
    raw = facets.get(key)
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise MalformedOpenLineage(_first_error(exc, (*loc, key))) from None


def parse_openlineage(raw: Any, loc: tuple[str | int, ...] = ()) -> AnyOpenLineageEvent:
    """One decoded JSON object as a RunEvent, DatasetEvent or JobEvent (by its keys)."""
    if not isinstance(raw, dict):
        where = format_loc(loc) if loc else "body"
        raise MalformedOpenLineage(
            f"{where}: an OpenLineage event must be a JSON object, not {type(raw).__name__}"
        )
    model: type[AnyOpenLineageEvent]
    if "run" in raw:
        model = RunEvent
    elif "dataset" in raw:
        model = DatasetEvent
    elif "job" in raw:
        model = JobEvent
    else:
        where = format_loc(loc) if loc else "event"
        raise MalformedOpenLineage(
            f"{where}: not an OpenLineage RunEvent, DatasetEvent or JobEvent "
            "(expected a 'run', 'dataset' or 'job' key)"
        )
    try:
        event = model.model_validate(raw)
    except ValidationError as exc:
        raise MalformedOpenLineage(_first_error(exc, loc)) from None
    _check_facets(event, loc)
    return event


def _check_facets(event: AnyOpenLineageEvent, loc: tuple[str | int, ...]) -> None:
    # Facets we read are validated up front, so a bad one is a 400 naming it.
    if isinstance(event, RunEvent):
        facets = event.run.facets
        _facet(ParentRunFacet, facets, "parent", (*loc, "run", "facets"))
        _facet(ErrorMessageRunFacet, facets, "errorMessage", (*loc, "run", "facets"))
    if isinstance(event, (RunEvent, JobEvent)):
        _facet(OwnershipFacet, event.job.facets, "ownership", (*loc, "job", "facets"))
        _facet(DocumentationFacet, event.job.facets, "documentation", (*loc, "job", "facets"))
        datasets = [("inputs", i, d) for i, d in enumerate(event.inputs)]
        datasets += [("outputs", i, d) for i, d in enumerate(event.outputs)]
    else:
        datasets = []
    if isinstance(event, DatasetEvent):
        _dataset_facts(event.dataset, (*loc, "dataset"))
    for side, i, dataset in datasets:
        _dataset_facts(dataset, (*loc, side, i))


# -- names -------------------------------------------------------------------------------------


def pipeline_name(namespace: str, name: str) -> str:
    """`<namespace>/<name>` as a contract name (just the name when the namespace is empty)."""
    return sanitize_name(f"{namespace}/{name}" if namespace else name)


def dataset_uri(namespace: str, name: str) -> str:
    """`<namespace>/<name>`: `s3://bucket` + `raw/x.csv` -> `s3://bucket/raw/x.csv`."""
    if not namespace:
        return name
    return f"{namespace.rstrip('/')}/{name.lstrip('/')}"


def owner_id(name: str) -> str:
    """An ownership facet owner as `team:`/`user:` (no prefix means a team)."""
    kind, sep, rest = name.partition(":")
    if sep and kind in ("team", "user") and rest:
        return f"{kind}:{sanitize_name(rest)}"
    return f"team:{sanitize_name(name)}"


def _owners(facet: OwnershipFacet | None) -> list[str]:
    return [owner_id(o.name) for o in (facet.owners or [])] if facet else []


# -- translation -----------------------------------------------------------------------------


def _dataset_facts(
    dataset: Dataset,
    loc: tuple[str | int, ...],
    input_versions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The artifact fields of a dataset; the facets we do not map stay under `openlineage`.
    ``input_versions``: the versions of the event's inputs by uri, for column lineage."""
    facets, extra = dataset.facets, {**dataset.inputFacets, **dataset.outputFacets}
    floc = (*loc, "facets")
    version = _facet(DatasetVersionFacet, facets, "version", floc)
    if version is None:
        # Some producers put the version in an input/output facet.
        side = "inputFacets" if dataset.inputFacets else "outputFacets"
        for key in ("version", "datasetVersion"):
            version = version or _facet(DatasetVersionFacet, extra, key, (*loc, side))
    owners = _owners(_facet(OwnershipFacet, facets, "ownership", floc))
    stats = _facet(
        StatisticsFacet, dataset.outputFacets, "outputStatistics", (*loc, "outputFacets")
    ) or _facet(StatisticsFacet, dataset.inputFacets, "inputStatistics", (*loc, "inputFacets"))
    columns = _facet(ColumnLineageFacet, facets, "columnLineage", floc)
    facts: dict[str, Any] = {
        "uri": dataset_uri(dataset.namespace, dataset.name),
        "kind": "dataset",
        "version": None if version is None else str(version.datasetVersion),
        "schema": facets.get("schema"),
        "owner": owners[0] if owners else None,
        # The contract holds one owner per artifact event; all of them are kept here.
        "owners": owners if len(owners) > 1 else None,
        "records": stats.rowCount if stats else None,
        "size_bytes": stats.size if stats else None,
        "column_lineage": _column_lineage(columns, input_versions or {}) if columns else None,
        "openlineage": _drop_none(
            {
                "namespace": dataset.namespace,
                "name": dataset.name,
                "facets": _without(facets, "version", "schema", "ownership", "columnLineage")
                or None,
                "inputFacets": dataset.inputFacets or None,
                "outputFacets": dataset.outputFacets or None,
            }
        ),
    }
    return _drop_none(facts)


def _column_lineage(
    facet: ColumnLineageFacet, input_versions: dict[str, str]
) -> list[dict[str, Any]] | None:
    """The ``columnLineage`` facet as ``column_lineage`` (docs/columns.md): an input
    field's version is its dataset's in the same event (else apply_columns finds it)."""
    out = []
    for name, lineage in facet.fields.items():
        inputs = []
        for ref in lineage.inputFields:
            uri = dataset_uri(ref.namespace, ref.name)
            # Several transformations of one input field: the first types the edge, all
            # of them describe it.
            steps = ref.transformations or []
            first = steps[0] if steps else None
            words = "; ".join(t.description for t in steps if t.description)
            inputs.append(
                _drop_none(
                    {
                        "uri": uri,
                        "version": input_versions.get(uri),
                        "field": ref.field,
                        "type": first.type if first else None,
                        "subtype": first.subtype if first else None,
                        "description": words or None,
                    }
                )
            )
        out.append(
            _drop_none(
                {
                    "field": name,
                    "inputs": inputs,
                    "description": lineage.transformationDescription,
                    "type": lineage.transformationType,
                }
            )
        )
    return out or None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


def _source(producer: str) -> str:
    return f"openlineage:{producer}"[:200]


def translate(event: AnyOpenLineageEvent) -> list[dict[str, Any]]:
    """Tracegraph events (raw dicts for `IngestService.ingest`) for one OpenLineage event."""
    if isinstance(event, RunEvent):
        return _run_event(event)
    if isinstance(event, DatasetEvent):
        return [_dataset_event(event)]
    return [_job_event(event)]


def _run_event(ev: RunEvent) -> list[dict[str, Any]]:
    time = format_timestamp(ev.eventTime)
    kind = ev.eventType or "OTHER"
    parent = _facet(ParentRunFacet, ev.run.facets, "parent", ())
    parent_step: str | None = None
    if (
        parent is not None
        and parent.root is not None
        and (parent.root.run.runId != parent.run.runId)
    ):
        # A nested chain: the root's run is ours, the job a step of it, and the job in
        # between is recorded as its parent step.
        root = parent.root
        pipeline = pipeline_name(root.job.namespace, root.job.name)
        run, step = root.run.runId, sanitize_name(ev.job.name)
        parent_step = sanitize_name(parent.job.name)
    elif parent is not None:
        pipeline = pipeline_name(parent.job.namespace, parent.job.name)
        run, step = parent.run.runId, sanitize_name(ev.job.name)
    else:
        pipeline = pipeline_name(ev.job.namespace, ev.job.name)
        run, step = ev.run.runId, None
    envelope: dict[str, Any] = {"time": time, "source": _source(ev.producer)}
    envelope |= {"pipeline": pipeline, "run": run}
    if step is not None:
        envelope["step"] = step

    def event_id(our_type: str, uri: str | None = None) -> str:
        # The source event's identity plus what we derived from it.
        key = (ev.run.runId, kind, time, ev.job.namespace, ev.job.name, our_type, uri)
        return stable_id("ol", *key)

    context = _drop_none(
        {
            "runId": ev.run.runId,
            "eventType": kind,
            "job": {"namespace": ev.job.namespace, "name": ev.job.name},
            "run_facets": _without(ev.run.facets, "errorMessage") or None,
            "job_facets": ev.job.facets or None,
        }
    )
    our_type, data = _status_event(ev, kind, step is not None, context)
    if parent_step is not None and our_type != "log":
        data["parent_step"] = parent_step
    events = [{"id": event_id(our_type), "type": our_type, **envelope, "data": data}]
    input_versions = {
        facts["uri"]: facts["version"]
        for facts in (_dataset_facts(d, ("inputs", i)) for i, d in enumerate(ev.inputs))
        if facts.get("version") is not None
    }
    for side, datasets in (("artifact.read", ev.inputs), ("artifact.written", ev.outputs)):
        for i, dataset in enumerate(datasets):
            loc = ("inputs" if side == "artifact.read" else "outputs", i)
            facts = _dataset_facts(dataset, loc, input_versions)
            if side == "artifact.read":
                # Column lineage describes what is written; an input's facet is kept as is.
                facts.pop("column_lineage", None)
            if parent_step is not None:
                facts["parent_step"] = parent_step
            events.append(
                {"id": event_id(side, facts["uri"]), "type": side, **envelope, "data": facts}
            )
    return events


def _status_event(
    ev: RunEvent, kind: str, is_step: bool, context: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    level = "step" if is_step else "run"
    job = f"{ev.job.namespace}/{ev.job.name}"
    if kind == "START":
        return f"{level}.started", {"openlineage": context}
    if kind == "COMPLETE":
        data: dict[str, Any] = {"openlineage": context}
        if ev.outputs:
            uris = [dataset_uri(d.namespace, d.name) for d in ev.outputs]
            data["outputs"] = {"datasets": uris}
        return f"{level}.completed", data
    if kind == "FAIL":
        facet = _facet(ErrorMessageRunFacet, ev.run.facets, "errorMessage", ())
        error = (
            _drop_none(
                {
                    "message": facet.message,
                    "type": facet.programmingLanguage,
                    "stack": facet.stackTrace,
                }
            )
            if facet
            else {"message": f"{job} failed (OpenLineage FAIL event without errorMessage facet)"}
        )
        return f"{level}.failed", {"error": error, "openlineage": context}
    if kind == "ABORT":
        if not is_step:
            return "run.cancelled", {"reason": "aborted", "openlineage": context}
        # No step.cancelled in the contract: an aborted step did not succeed.
        error = {"type": "aborted", "message": f"{job} was aborted (OpenLineage ABORT)"}
        return "step.failed", {"error": error, "reason": "aborted", "openlineage": context}
    if kind == "RUNNING" and is_step:
        return "step.progress", {"message": "running", "openlineage": context}
    # RUNNING of a pipeline run, OTHER, or no eventType: information only.
    message = f"OpenLineage {kind} event for job {job}"
    return "log", {"level": "info", "message": message, "context": context}


def _dataset_event(ev: DatasetEvent) -> dict[str, Any]:
    facts = _dataset_facts(ev.dataset, ("dataset",))
    time = format_timestamp(ev.eventTime)
    return {
        "id": stable_id("ol", "dataset", time, facts["uri"]),
        "type": "log",
        "time": time,
        "source": _source(ev.producer),
        "data": {
            "level": "info",
            "message": f"OpenLineage dataset event for {facts['uri']}",
            "context": {"dataset": facts},
        },
    }


def _job_event(ev: JobEvent) -> dict[str, Any]:
    time = format_timestamp(ev.eventTime)
    owners = _owners(_facet(OwnershipFacet, ev.job.facets, "ownership", ()))
    docs = _facet(DocumentationFacet, ev.job.facets, "documentation", ())
    static_lineage = {
        "inputs": [_dataset_facts(d, ("inputs", i)) for i, d in enumerate(ev.inputs)] or None,
        "outputs": [_dataset_facts(d, ("outputs", i)) for i, d in enumerate(ev.outputs)] or None,
    }
    data: dict[str, Any] = {
        "description": docs.description if docs else None,
        "owner": owners[0] if owners else None,
        "steps": [],
        "openlineage": _drop_none(
            {
                "job": {"namespace": ev.job.namespace, "name": ev.job.name},
                "job_facets": _without(ev.job.facets, "documentation") or None,
                **static_lineage,
            }
        ),
    }
    return {
        "id": stable_id("ol", "job", time, ev.job.namespace, ev.job.name),
        "type": "pipeline.defined",
        "time": time,
        "source": _source(ev.producer),
        "pipeline": pipeline_name(ev.job.namespace, ev.job.name),
        "data": _drop_none(data),
    }


def translate_body(doc: Any) -> list[tuple[int, dict[str, Any]]]:
    """A decoded request body (one event or an array) -> (source index, our event) pairs.

    Raises `MalformedOpenLineage` for the first malformed event: the request is then a 400
    and nothing is stored, as a partial translation would be hard to retry.
    """
    items = doc if isinstance(doc, list) else [doc]
    multi = isinstance(doc, list)
    out: list[tuple[int, dict[str, Any]]] = []
    for index, raw in enumerate(items):
        event = parse_openlineage(raw, (index,) if multi else ())
        out.extend((index, e) for e in translate(event))
    return out


def batch_items(doc: Any) -> list[Any]:
    """The events of a ``/api/v1/lineage/batch`` body: a JSON array of events, or an
    object with an ``events`` array (both shapes are in use)."""
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return list(doc["events"])
    if isinstance(doc, list):
        return doc
    raise MalformedOpenLineage(
        "body: a batch is a JSON array of OpenLineage events or an object with an 'events' array"
    )


def translate_batch(
    items: list[Any],
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """Each event of a batch on its own: (source index, our event) pairs of the good
    ones, and (index, error) of the malformed ones, which lose nothing else."""
    out: list[tuple[int, dict[str, Any]]] = []
    errors: list[tuple[int, str]] = []
    for index, raw in enumerate(items):
        try:
            event = parse_openlineage(raw, (index,))
            derived = translate(event)
        except MalformedOpenLineage as exc:
            errors.append((index, f"invalid OpenLineage event: {exc}"))
            continue
        out.extend((index, e) for e in derived)
    return out, errors


__all__ = [
    "AnyOpenLineageEvent",
    "DatasetEvent",
    "JobEvent",
    "MalformedOpenLineage",
    "RunEvent",
    "batch_items",
    "dataset_uri",
    "owner_id",
    "parse_openlineage",
    "pipeline_name",
    "translate",
    "translate_batch",
    "translate_body",
]
