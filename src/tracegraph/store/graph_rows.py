"""Turns sequenced events into the parameter rows of the batched upserts in ``cypher/``.

``plan_statements`` gives each event family its rows, which ``cypher/apply_batch.cypher``
applies in one statement, block by block in a fixed order. The Cypher is written
so that the result does not depend on the order of rows or batches (see the contract's
ordering rules), which is what makes late, duplicated and shuffled streams converge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from tracegraph.events import format_timestamp
from tracegraph.events.columns import SchemaError, schema_fields
from tracegraph.events.records import EventRows, SequencedEvent
from tracegraph.events.step_paths import dependency_paths, path_signature
from tracegraph.redaction import RedactionCount

RUN_STATUS: dict[str, tuple[str, int]] = {
    "run.scheduled": ("scheduled", 0),
    "run.started": ("running", 1),
    "run.completed": ("succeeded", 2),
    "run.failed": ("failed", 2),
    "run.cancelled": ("cancelled", 2),
}
STEP_STATUS: dict[str, tuple[str, int]] = {
    "step.scheduled": ("scheduled", 0),
    "step.started": ("running", 1),
    "step.progress": ("running", 1),
    "step.completed": ("succeeded", 2),
    "step.failed": ("failed", 2),
    "step.skipped": ("skipped", 2),
}
# run.paused / run.resumed (issue 18): whether a running run is paused. Their own family,
# folded to the latest by (time, seq); they never move the status rank, so a terminal
# event wins over them in any order (apply_batch's `pauses` block).
PAUSE_TYPES = {"run.paused": True, "run.resumed": False}
# Events that happen inside a step run when they name a step.
IN_STEP_TYPES = frozenset(
    {"prompt.sent", "response.chunk", "response.received", "artifact.read", "artifact.written"}
)


# approval.* (issue 19): inside a step run (which they touch like any in-step event), and
# their own family: the Approval node (apply_batch's `approvals` block).
APPROVAL_STATES = {
    "approval.granted": "granted",
    "approval.denied": "denied",
    "approval.expired": "expired",
}
APPROVAL_TYPES = frozenset({"approval.requested", *APPROVAL_STATES})


# Row fields that carry the event's seq, per statement family.
_SEQ_FIELDS: dict[str, tuple[str, ...]] = {
    "approval": ("seq",),
    "run": ("seq",),
    "pause": ("seq",),
    "step": ("seq", "message_seq"),
    "artifact": ("seq", "kind_seq"),
}


def build_event_rows(
    payload: dict[str, Any],
    fingerprint: str,
    received_at: str,
    principal: str | None,
    redactions: RedactionCount | None,
) -> EventRows:
    """The rows of an event that has no seq yet (``received_at``: formatted once per
    request). ``stamp`` must set the seq before they are written."""
    return EventRows(
        _log_row(payload, 0, fingerprint, received_at, principal, redactions),
        _family_rows(payload, 0, redactions),
    )


def stamp(rows: EventRows, seq: int) -> None:
    rows.log["seq"] = seq
    for family, row in rows.family:
        for name in _SEQ_FIELDS.get(family, ()):
            row[name] = seq


@dataclass
class StatementPlan:
    """How one batch is applied: its pipeline definitions first (``apply_pipeline_defined``;
    their steps are written only for the definitions that win, known once it has run),
    then everything else in one ``apply_batch`` statement with ``batch`` as parameters."""

    pipelines: list[dict[str, Any]] = field(default_factory=list)
    # The steps and step edges of each defined pipeline, by name.
    pipeline_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch: dict[str, list[Any]] = field(default_factory=dict)
    # apply_columns' parameters (schemas, field lineage), or None when the batch has no
    # artifact event with columns: the statement is not run at all then.
    columns: dict[str, list[Any]] | None = None
    # The step runs that read or wrote an artifact in this batch: their inferred lineage
    # (cypher/apply_inferred_lineage) is brought up to date after apply_batch.
    linked_step_runs: list[str] = field(default_factory=list)
    # The artifacts this batch read, wrote or named as a column input: column lineage
    # inputs named without a version follow their reads (cypher/reresolve_field_inputs).
    artifact_uris: list[str] = field(default_factory=list)


def parse_time(value: str | None) -> str | None:
    """Timestamps stay canonical strings (UTC, fixed width, so they also sort as text);
    the Cypher converts them with datetime(), which is far cheaper than the driver's
    Python-side packing of datetime objects."""
    return value


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _owner(owner_id: str | None) -> dict[str, str] | None:
    if not owner_id:
        return None
    kind, _, name = owner_id.partition(":")
    return {"id": owner_id, "kind": kind, "name": name}


def _sla(sla_id: str, sla: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sla:
        return None
    keys = (
        "max_duration_ms",
        "max_tokens",
        "max_cost_usd",
        "min_success_rate",
        "window",
        "max_start_delay_ms",
    )
    return {"id": sla_id, **{k: sla.get(k) for k in keys}}


def _text_or_messages(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The readable text of a prompt or response, and its messages as JSON if given."""
    messages = data.get("messages")
    text = data.get("text")
    if text is None and messages:
        text = "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" for m in messages)
    return text, _json(messages)


def redaction_fields(redactions: RedactionCount | None) -> dict[str, Any]:
    """``redactions`` (total) and ``redaction_kinds`` (rule names, sorted) of a node."""
    if redactions is None:
        return {"redactions": None, "redaction_kinds": None}
    return {"redactions": redactions.total, "redaction_kinds": list(redactions.kinds)}


def step_run_id(run: str, step: str, attempt: int) -> str:
    return f"{run}/{step}#{attempt}"


def _error_fields(data: dict[str, Any]) -> tuple[str | None, str | None]:
    error = data.get("error")
    if isinstance(error, dict):
        return error.get("message"), error.get("type")
    if isinstance(error, str):
        return error, None
    return None, None


def event_log_rows(events: Sequence[SequencedEvent]) -> list[dict[str, Any]]:
    return [
        ev.rows.log
        if ev.rows is not None
        else _log_row(
            ev.payload,
            ev.seq,
            ev.fingerprint,
            format_timestamp(ev.received_at),
            ev.principal,
            ev.redactions,
        )
        for ev in events
    ]


def _log_row(
    p: dict[str, Any],
    seq: int,
    fingerprint: str,
    received_at: str,
    principal: str | None,
    redactions: RedactionCount | None,
) -> dict[str, Any]:
    return {
        "id": p["id"],
        "seq": seq,
        "type": p["type"],
        "time": parse_time(p["time"]),
        "received_at": received_at,
        "source": p.get("source"),
        "pipeline": p.get("pipeline"),
        "run": p.get("run"),
        "step": p.get("step"),
        "attempt": p.get("attempt", 1),
        "payload": orjson.dumps(p).decode(),
        "fingerprint": fingerprint,
        "principal": principal,
        **redaction_fields(redactions),
    }


def _pipeline_rows(events: Iterable[SequencedEvent]) -> tuple[list[dict], dict[str, dict]]:
    # Only the newest definition per pipeline in a batch can win; keep just that one.
    newest: dict[str, SequencedEvent] = {}
    # Every version the batch defines, winning or not: the Pipeline node keeps the set
    # used, so a submitted version is checked for being new without reading the log.
    versions: dict[str, set[str]] = {}
    for ev in events:
        name = ev.payload["pipeline"]
        version = (ev.payload.get("data") or {}).get("version")
        if version is not None:
            versions.setdefault(name, set()).add(str(version))
        cur = newest.get(name)
        key = (parse_time(ev.payload["time"]), ev.seq)
        if cur is None or key > (parse_time(cur.payload["time"]), cur.seq):
            newest[name] = ev
    rows, steps = [], {}
    for name, ev in newest.items():
        data = ev.payload.get("data") or {}
        rows.append(
            {
                "pipeline": name,
                "seq": ev.seq,
                "defined_at": parse_time(ev.payload["time"]),
                "version": data.get("version"),
                "versions": sorted(versions.get(name, ())),
                "description": data.get("description"),
                "schedule": data.get("schedule"),
                "definition": _json(data),
                "owner": _owner(data.get("owner")),
                "sla": _sla(f"pipeline:{name}", data.get("sla")),
            }
        )
        step_rows = []
        edges: list[dict[str, str]] = []
        for st in data.get("steps") or []:
            sid = f"{name}/{st['key']}"
            step_rows.append(
                {
                    "id": sid,
                    "key": st["key"],
                    "name": st.get("name"),
                    "kind": st.get("kind"),
                    "description": st.get("description"),
                    "owner": _owner(st.get("owner")),
                    "sla": _sla(f"step:{sid}", st.get("sla")),
                }
            )
            edges.extend({"from": sid, "to": f"{name}/{up}"} for up in st.get("depends_on") or [])
        paths = dependency_paths(
            {st["key"]: list(st.get("depends_on") or []) for st in data.get("steps") or []}
        )
        steps[name] = {
            "row": {"pipeline": name, "steps": step_rows},
            "edges": edges,
            # The explaining path of every transitive dependency (events/step_paths.py),
            # for inferred lineage; applied only when the signature changed.
            "paths": {
                "pipeline": name,
                "signature": path_signature(paths),
                "paths": [
                    {"from": f"{name}/{down}", "to": f"{name}/{up}", "path": path}
                    for (down, up), path in sorted(paths.items())
                ],
            },
        }
    return rows, steps


def _run_row(p: dict[str, Any], seq: int) -> dict[str, Any]:
    data = p.get("data") or {}
    status, rank = RUN_STATUS[p["type"]]
    error, error_type = _error_fields(data)
    return {
        "run": p["run"],
        "pipeline": p["pipeline"],
        "status": status,
        "rank": rank,
        "time": parse_time(p["time"]),
        "seq": seq,
        "scheduled_for": parse_time(data.get("scheduled_for")),
        "started_at": parse_time(p["time"]) if p["type"] == "run.started" else None,
        "trigger": data.get("trigger"),
        "triggered_by": data.get("triggered_by"),
        "params": _json(data.get("params")),
        "pipeline_version": data.get("pipeline_version"),
        "error": error,
        "error_type": error_type,
        "outputs": _json(data.get("outputs")),
        "reason": data.get("reason"),
    }


def _pause_row(p: dict[str, Any], seq: int) -> dict[str, Any]:
    data = p.get("data") or {}
    return {
        "run": p["run"],
        "pipeline": p["pipeline"],
        "paused": PAUSE_TYPES[p["type"]],
        "time": parse_time(p["time"]),
        "seq": seq,
        "reason": data.get("reason"),
        "command": data.get("command"),
    }


def _approval_row(p: dict[str, Any], seq: int) -> dict[str, Any]:
    data = p.get("data") or {}
    attempt = p.get("attempt", 1)
    requested = p["type"] == "approval.requested"
    time = parse_time(p["time"])
    deadline = None
    if requested and time is not None:
        at = datetime.fromisoformat(time) + timedelta(seconds=float(data["timeout_s"]))
        deadline = format_timestamp(at)
    return {
        "id": data["approval"],
        "pipeline": p["pipeline"],
        "run": p["run"],
        "step": p["step"],
        "attempt": attempt,
        "step_run": step_run_id(p["run"], p["step"], attempt),
        "seq": seq,
        "type": p["type"],
        "question": data.get("question") if requested else None,
        "approvers": data.get("approvers") if requested else None,
        "timeout_s": data.get("timeout_s") if requested else None,
        "requested_at": time if requested else None,
        "deadline": deadline,
        "decision": APPROVAL_STATES.get(p["type"]),
        "decided_at": None if requested else time,
        "by": None if requested else data.get("by"),
        "comment": None if requested else data.get("comment"),
    }


def _fold_approvals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per approval: its request's fields and its first decision by seq (the
    log holds one decision per approval, decisions sharing an event id; first by seq
    keeps a replay equal to the live fold anyway)."""
    out: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["seq"]):
        seen = out.get(row["id"])
        if seen is None:
            out[row["id"]] = {**row, "request_seq": row["seq"] if row["decision"] is None else None}
            continue
        if row["decision"] is None:
            for name in ("question", "approvers", "timeout_s", "requested_at", "deadline"):
                seen[name] = row[name]
            seen["request_seq"] = row["seq"]
        elif seen["decision"] is None:
            for name in ("decision", "decided_at", "by", "comment"):
                seen[name] = row[name]
            seen["decision_seq"] = row["seq"]
    for row in out.values():
        if row["decision"] is not None:
            row.setdefault("decision_seq", row["seq"])
        else:
            row["decision_seq"] = None
    return sorted(out.values(), key=lambda r: r["id"])


def _latest_pauses(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run: its latest pause/resume by (time, seq), as the Cypher decides."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = latest.get(row["run"])
        if seen is None or (row["time"], row["seq"]) > (seen["time"], seen["seq"]):
            latest[row["run"]] = row
    return list(latest.values())


def _step_row(p: dict[str, Any], seq: int) -> dict[str, Any]:
    data = p.get("data") or {}
    status, rank = STEP_STATUS.get(p["type"], ("running", 1))
    error, error_type = _error_fields(data) if p["type"] == "step.failed" else (None, None)
    attempt = p.get("attempt", 1)
    is_step_event = p["type"] in STEP_STATUS
    return {
        "run": p["run"],
        "pipeline": p["pipeline"],
        "step": p["step"],
        "step_id": f"{p['pipeline']}/{p['step']}",
        "attempt": attempt,
        "id": step_run_id(p["run"], p["step"], attempt),
        "status": status,
        "rank": rank,
        "time": parse_time(p["time"]),
        "seq": seq,
        "scheduled_for": parse_time(data.get("scheduled_for")) if is_step_event else None,
        "started_at": parse_time(p["time"]) if p["type"] == "step.started" else None,
        "provider": data.get("provider") if p["type"] == "step.started" else None,
        "model": data.get("model") if p["type"] == "step.started" else None,
        "params": _json(data.get("params")) if p["type"] == "step.started" else None,
        "token_budget": data.get("token_budget"),
        "percent": data.get("percent") if p["type"] == "step.progress" else None,
        "tokens_used": data.get("tokens_used") if p["type"] == "step.progress" else None,
        "items_done": data.get("items_done"),
        "items_total": data.get("items_total"),
        "message": data.get("message") if p["type"] == "step.progress" else None,
        "message_time": parse_time(p["time"]),
        "message_seq": seq,
        "error": error,
        "error_type": error_type,
        "retryable": data.get("retryable"),
        "reason": data.get("reason") if p["type"] == "step.skipped" else None,
        "outputs": _json(data.get("outputs")) if p["type"] == "step.completed" else None,
    }


def _step_run_of(p: dict[str, Any]) -> str | None:
    step = p.get("step")
    return step_run_id(p["run"], step, p.get("attempt", 1)) if step else None


def _prompt_row(p: dict[str, Any], redactions: RedactionCount | None) -> dict[str, Any]:
    data = p.get("data") or {}
    provider = data.get("provider") or "unknown"
    template = data.get("template") or {}
    text, messages = _text_or_messages(data)
    tname, tversion = template.get("name"), template.get("version")
    return {
        "id": f"{p['run']}/{data['call']}",
        "run": p["run"],
        "call": data["call"],
        "step_run": _step_run_of(p),
        # Pipeline and step on the call let metrics filter calls by index, without joins.
        "pipeline": p["pipeline"],
        "step": p.get("step"),
        "provider": provider,
        "model": data["model"],
        "model_id": f"{provider}/{data['model']}",
        "template": tname,
        "template_version": tversion,
        "prompt_version_id": f"{tname}@{tversion}" if tname and tversion is not None else None,
        "prompt": text,
        "prompt_messages": messages,
        "variables": _json(data.get("variables")),
        "input_tokens": data.get("input_tokens"),
        "params": _json(data.get("params")),
        "time": parse_time(p["time"]),
        **redaction_fields(redactions or RedactionCount()),
    }


def _response_row(p: dict[str, Any], redactions: RedactionCount | None) -> dict[str, Any]:
    data = p.get("data") or {}
    text, messages = _text_or_messages(data)
    error = data.get("error")
    return {
        "id": f"{p['run']}/{data['call']}",
        "run": p["run"],
        "call": data["call"],
        "step_run": _step_run_of(p),
        # Pipeline and step on the call let metrics filter calls by index, without joins.
        "pipeline": p["pipeline"],
        "step": p.get("step"),
        "response": text,
        "response_messages": messages,
        "input_tokens": data.get("input_tokens"),
        "output_tokens": data.get("output_tokens"),
        "latency_ms": data.get("latency_ms"),
        "cost_usd": data.get("cost_usd"),
        "finish_reason": data.get("finish_reason"),
        "error": error if isinstance(error, str) or error is None else _json(error),
        "time": parse_time(p["time"]),
        **redaction_fields(redactions or RedactionCount()),
    }


def artifact_version_id(uri: str, version: str | None, content_hash: str | None) -> str:
    return f"{uri}@{version if version is not None else content_hash or 'unversioned'}"


def _artifact_row(p: dict[str, Any], seq: int) -> dict[str, Any]:
    data = p.get("data") or {}
    version = data.get("version")
    version = None if version is None else str(version)
    return {
        "uri": data["uri"],
        "version_id": artifact_version_id(data["uri"], version, data.get("hash")),
        "kind": data.get("kind"),
        "version": version,
        "hash": data.get("hash"),
        "size_bytes": data.get("size_bytes"),
        "records": data.get("records"),
        "schema": _json(data.get("schema")),
        "owner": _owner(data.get("owner")),
        "run": p["run"],
        "step_run": _step_run_of(p),
        "written": p["type"] == "artifact.written",
        "written_rank": 1 if p["type"] == "artifact.written" else 0,
        "kind_time": parse_time(p["time"]),
        "kind_seq": seq,
        "time": parse_time(p["time"]),
        "seq": seq,
        **_column_fields(data),
    }


def _column_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The schema's fields (names, and types with '' for none: a stored list holds no
    null) and the column lineage of an artifact event, for apply_columns."""
    try:
        fields = schema_fields(data.get("schema"))
    except SchemaError:
        # Validated at ingest; a stored event from before that check keeps its schema
        # as an opaque value.
        fields = None
    lineage = data.get("column_lineage") or None
    return {
        "field_names": None if fields is None else [name for name, _ in fields],
        "field_types": None if fields is None else [kind or "" for _, kind in fields],
        "column_lineage": lineage,
    }


def _status_key(row: dict[str, Any]) -> tuple:
    # Terminal rows compete on (time, seq); earlier statuses only on rank.
    if row["rank"] == 2:
        return (2, row["time"], row["seq"])
    return (row["rank"], _EPOCH, 0)


_EPOCH = ""
_STATUS_FIELDS = (
    "status",
    "rank",
    "time",
    "seq",
    "error",
    "error_type",
    "retryable",
    "reason",
    "outputs",
)


def _fold(rows: list[dict[str, Any]], key: str, *, grow: tuple[str, ...] = ()) -> list[dict]:
    """One row per entity, folding a batch's rows with the same rules the Cypher applies
    against stored state (a statement reads its snapshot before writing, so two rows for
    one node in one statement would not see each other)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    folded = []
    for group in groups.values():
        if len(group) == 1:
            folded.append(group[0])
            continue
        group.sort(key=lambda r: r["seq"])
        out = dict(group[-1])
        for field_name in out:
            if field_name in _STATUS_FIELDS:
                continue
            values = [r[field_name] for r in group if r.get(field_name) is not None]
            out[field_name] = values[-1] if values else None
        winner = max(group, key=_status_key)
        for field_name in _STATUS_FIELDS:
            if field_name in winner:
                out[field_name] = winner[field_name]
        started = [r["started_at"] for r in group if r.get("started_at") is not None]
        out["started_at"] = min(started) if started else None
        for field_name in grow:
            values = [r[field_name] for r in group if r.get(field_name) is not None]
            out[field_name] = max(values) if values else None
        messages = [r for r in group if r.get("message") is not None]
        if messages:
            latest = max(messages, key=lambda r: (r["time"], r["seq"]))
            out["message"], out["message_time"], out["message_seq"] = (
                latest["message"],
                latest["time"],
                latest["seq"],
            )
        folded.append(out)
    return folded


def _fold_artifacts(rows: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Artifact versions (one row each) and the read/write links of the batch.

    A version's content comes from its latest write (else latest read), ranked by
    (written, time, seq) — the same rule apply_artifact_versions applies to stored state.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["version_id"], []).append(row)
    versions = []
    for group in groups.values():
        winner = dict(max(group, key=lambda r: (r["written_rank"], r["time"], r["seq"])))
        with_kind = [r for r in group if r["kind"] is not None]
        if with_kind:
            # Artifact.kind follows the latest event that names a kind.
            latest = max(with_kind, key=lambda r: (r["time"], r["seq"]))
            winner["kind"], winner["kind_time"], winner["kind_seq"] = (
                latest["kind"],
                latest["time"],
                latest["seq"],
            )
        winner["first_seen"] = min(r["time"] for r in group)
        owners = {r["owner"]["id"]: r["owner"] for r in group if r["owner"]}
        winner["owners"] = list(owners.values())
        versions.append(winner)
    links = [
        {
            "version_id": r["version_id"],
            "run": r["run"],
            "step_run": r["step_run"],
            "written": r["written"],
        }
        for r in rows
    ]
    return versions, links


def _family_rows(
    p: dict[str, Any], seq: int, redactions: RedactionCount | None
) -> list[tuple[str, dict[str, Any]]]:
    """The rows an event contributes to each statement family (pipeline definitions
    aside: only the newest of a batch is applied, see ``_pipeline_rows``)."""
    t = p["type"]
    if t in RUN_STATUS:
        return [("run", _run_row(p, seq))]
    if t in PAUSE_TYPES:
        return [("pause", _pause_row(p, seq))]
    rows: list[tuple[str, dict[str, Any]]] = []
    if t in APPROVAL_TYPES:
        return [("step", _step_row(p, seq)), ("approval", _approval_row(p, seq))]
    if t in STEP_STATUS or (t in IN_STEP_TYPES and p.get("step")):
        rows.append(("step", _step_row(p, seq)))
    elif t in IN_STEP_TYPES:
        rows.append(("touch", {"run": p["run"], "pipeline": p["pipeline"]}))
    if t == "prompt.sent":
        rows.append(("prompt", _prompt_row(p, redactions)))
    elif t == "response.received":
        rows.append(("response", _response_row(p, redactions)))
    elif t in ("artifact.read", "artifact.written"):
        rows.append(("artifact", _artifact_row(p, seq)))
    return rows


# The per-event rows, also folded outside the database by point-in-time views
# (history/fold.py), which must see exactly what apply_batch is given.
event_family_rows = _family_rows


def count_versions(log_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark the event-log rows with the version bumps of the batch (docs/live-deltas.md).

    A run's version and its pipeline card's grow by the number of new events about them.
    The first row of each run (and of each pipeline) carries the batch's count and its
    highest seq (``run_n``/``run_seq``, ``pipeline_n``/``pipeline_seq``), the others 0,
    so apply_batch writes each entity once per batch. Set in place on every call: a
    retried transaction recomputes them.
    """
    runs: dict[str, dict[str, Any]] = {}
    pipelines: dict[str, dict[str, Any]] = {}
    for row in log_rows:
        row["run_n"] = row["run_seq"] = row["pipeline_n"] = row["pipeline_seq"] = 0
        run, pipeline = row.get("run"), row.get("pipeline")
        if run is not None:
            first = runs.setdefault(run, row)
            first["run_n"] += 1
            first["run_seq"] = max(first["run_seq"], row["seq"])
        if pipeline is not None:
            first = pipelines.setdefault(pipeline, row)
            first["pipeline_n"] += 1
            first["pipeline_seq"] = max(first["pipeline_seq"], row["seq"])
    return log_rows


def plan_statements(
    events: Sequence[SequencedEvent],
    prices: dict[str, Any],
    counted: Collection[int] | None = None,
) -> StatementPlan:
    """The statements and parameters that apply ``events`` (see ``cypher/apply_batch``).

    ``counted``: the seqs whose events count towards step-run versions (None: all; a
    replay passes the events it linked, as the others were counted when ingested).
    """
    defs: list[SequencedEvent] = []
    families: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        if ev.type == "pipeline.defined":
            defs.append(ev)
        rows = (
            ev.rows.family
            if ev.rows is not None
            else _family_rows(ev.payload, ev.seq, ev.redactions)
        )
        for family, row in rows:
            families.setdefault(family, []).append(row)

    plan = StatementPlan()
    if defs:
        plan.pipelines, plan.pipeline_steps = _pipeline_rows(defs)

    step_events = Counter(
        r["id"] for r in families.get("step", []) if counted is None or r["seq"] in counted
    )
    step_rows = _fold(families.get("step", []), "id", grow=("percent", "tokens_used", "items_done"))
    for row in step_rows:
        row["events"] = step_events[row["id"]]
    prompt_rows = families.get("prompt", [])
    response_rows = families.get("response", [])
    versions, links = _fold_artifacts(families.get("artifact", []))
    call_rows = prompt_rows + response_rows
    reported = {r["id"] for r in step_rows if r["tokens_used"] is not None}
    plan.batch = {
        "events": count_versions(event_log_rows(events)),
        "runs": _fold(families.get("run", []), "run"),
        "pauses": _latest_pauses(families.get("pause", [])),
        "steps": step_rows,
        "touches": families.get("touch", []),
        "approvals": _fold_approvals(families.get("approval", [])),
        "prompts": prompt_rows,
        "responses": response_rows,
        "artifact_versions": versions,
        "artifact_links": links,
        "priced_calls": sorted({r["id"] for r in call_rows}),
        "total_runs": sorted({r["run"] for r in call_rows}),
        "token_step_runs": sorted({r["step_run"] for r in call_rows if r["step_run"]} | reported),
    }
    plan.columns = column_rows(versions, families.get("artifact", []))
    plan.artifact_uris = sorted(
        {row["uri"] for row in versions}
        | {i["uri"] for row in (plan.columns or {}).get("lineage", []) for i in row["inputs"]}
    )
    # apply_batch never sees the column fields: its plan is cached by parameter types,
    # which these (null or lists) would vary.
    for row in versions:
        for name in _COLUMN_FIELDS:
            row.pop(name, None)
    plan.linked_step_runs = sorted({r["step_run"] for r in links if r["step_run"]})
    return plan


_COLUMN_FIELDS = ("field_names", "field_types", "column_lineage")


def column_rows(
    versions: list[dict[str, Any]], artifact_rows: list[dict[str, Any]]
) -> dict[str, list[Any]] | None:
    """apply_columns' parameters: each version's schema (the winning row's, which
    apply_batch stored as ``schema``: apply_columns checks they agree), the field lineage
    of every write, and the artifacts whose versions are compared again."""
    schemas = [
        {
            "version_id": v["version_id"],
            "uri": v["uri"],
            "schema": v["schema"],
            "names": v["field_names"],
            "types": v["field_types"],
        }
        for v in versions
        if v.get("field_names") is not None
    ]
    lineage = [
        {
            "version_id": r["version_id"],
            "uri": r["uri"],
            "run": r["run"],
            "step_run": r["step_run"],
            "time": r["time"],
            "field": entry["field"],
            "description": entry.get("description"),
            "type": entry.get("type"),
            "inputs": [_input_field(i) for i in entry.get("inputs") or []],
        }
        for r in artifact_rows
        if r["written"] and r.get("column_lineage")
        for entry in r["column_lineage"]
    ]
    if not schemas and not lineage:
        return None
    return {
        "schemas": sorted(schemas, key=lambda row: row["version_id"]),
        "lineage": lineage,
        "artifacts": sorted({row["uri"] for row in schemas}),
        "versions": sorted({row["version_id"] for row in schemas}),
    }


def _input_field(entry: dict[str, Any]) -> dict[str, Any]:
    version = entry.get("version")
    return {
        "uri": entry["uri"],
        "version": None if version is None else str(version),
        # Without a version, apply_columns finds the one read (docs/columns.md).
        "version_id": None
        if version is None
        else artifact_version_id(entry["uri"], str(version), None),
        "field": entry["field"],
        "type": entry.get("type"),
        "subtype": entry.get("subtype"),
        "description": entry.get("description"),
    }
