"""Entity documents: the canonical JSON of a run, a pipeline card or an SLA breach at a
version, their redaction variants, digests and patches (docs/live-deltas.md).

Pure code: property maps in (as ``store.document_reads`` reads them), plain JSON out.
The same document is what ``snapshots`` answers, what ``digestCheck`` hashes and what
the delta subscriptions diff, so a client that applies every patch holds exactly it.
Maps are keyed by id (never arrays of entities), so the JSON-Pointer path of an item
stays the same when another one is added.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonpatch
import jsonpointer
import orjson
import rfc8785

from tracegraph.events.payloads import MAX_CHUNK_INDEX

Doc = dict[str, Any]
Patch = list[dict[str, Any]]

KINDS = ("run", "pipeline", "breach")
# Redaction variants: principals with read:prompts see prompt and response text.
FULL = "full"
REDACTED = "redacted"
# How many runs a pipeline card holds (newest first, as Pipeline.runs orders them).
CARD_RUNS = 10


class BadEntity(ValueError):
    """An entity key that is not ``run:<id>``, ``pipeline:<name>`` or ``breach:<id>``."""


def parse_entity(entity: str) -> tuple[str, str]:
    kind, sep, key = entity.partition(":")
    if not sep or kind not in KINDS or not key:
        raise BadEntity(
            f"{entity!r} is not an entity key (run:<id>, pipeline:<name> or breach:<id>)"
        )
    return kind, key


@dataclass(frozen=True, slots=True)
class Document:
    """An entity's document at a version (``doc`` None: no such entity, version 0)."""

    entity: str
    version: int
    seq: int
    doc: Doc | None


def absent(entity: str) -> Document:
    return Document(entity, 0, 0, None)


# -- values as the GraphQL API writes them ----------------------------------------------


def _time(value: Any) -> str | None:
    """A stored timestamp as the GraphQL DateTime scalar writes it (api/graphql/scalars)."""
    if value is None:
        return None
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text: str = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _status(value: str | None) -> str:
    return (value or "scheduled").upper()


def _owner(o: dict[str, Any] | None) -> Doc | None:
    if not o:
        return None
    oid = o["id"]
    kind = o.get("kind") or (oid.split(":", 1)[0] if ":" in oid else "unknown")
    return {"id": oid, "kind": kind, "name": o.get("name") or oid}


def _sla(s: dict[str, Any] | None) -> Doc | None:
    if not s:
        return None
    return {
        "id": s["id"],
        "maxDurationMs": _int(s.get("max_duration_ms")),
        "maxTokens": _int(s.get("max_tokens")),
        "maxCostUsd": _float(s.get("max_cost_usd")),
        "minSuccessRate": _float(s.get("min_success_rate")),
        "window": s.get("window"),
        "maxStartDelayMs": _int(s.get("max_start_delay_ms")),
    }


# -- runs ------------------------------------------------------------------------------


def _artifact(a: dict[str, Any]) -> Doc:
    # Only what the artifact version's id fixes: its kind and hash follow the latest
    # events of any run that touches it, which do not bump this run's version (a
    # document must be a function of its entity's version, or digests would drift).
    return {
        "id": a["id"],
        "uri": a.get("uri") or a["id"].rsplit("@", 1)[0],
        "version": a.get("version"),
    }


def _call(c: dict[str, Any], chunks: list[str | None]) -> Doc:
    return {
        "id": c["id"],
        "provider": c.get("provider") or "unknown",
        "model": c.get("model") or "unknown",
        "promptTemplate": c.get("template"),
        "promptVersion": c.get("template_version"),
        "prompt": c.get("prompt"),
        "response": c.get("response"),
        # Only while the call streams: the final text arrives once, with the response.
        "chunks": [] if c.get("received") else chunks,
        "inputTokens": _int(c.get("input_tokens")),
        "outputTokens": _int(c.get("output_tokens")),
        "latencyMs": _int(c.get("latency_ms")),
        "costUsd": _float(c.get("cost_usd")),
    }


def _approval(a: dict[str, Any]) -> Doc:
    return {
        "id": a["id"],
        "state": (a.get("state") or "pending").upper(),
        "question": a.get("question"),
        "approvers": list(a.get("approvers") or []),
        "timeoutS": _float(a.get("timeout_s")),
        "requestedAt": _time(a.get("requested_at")),
        "deadline": _time(a.get("deadline")),
        "decidedAt": _time(a.get("decided_at")),
        "decidedBy": a.get("decided_by"),
        "comment": a.get("comment"),
        "waitingMs": _int(a.get("waiting_ms")),
    }


def _step_run(sr: dict[str, Any], *, light: bool) -> Doc:
    doc: Doc = {
        "id": sr["id"],
        "step": sr.get("step"),
        "attempt": int(sr.get("attempt") or 1),
        "version": int(sr.get("version") or 0),
        "status": _status(sr.get("status")),
        "startedAt": _time(sr.get("started_at")),
        "endedAt": _time(sr.get("ended_at")),
        "durationMs": _int(sr.get("duration_ms")),
        "percent": _float(sr.get("percent")),
        "tokensUsed": _int(sr.get("tokens_used")),
        "tokenBudget": _int(sr.get("token_budget")),
        "provider": sr.get("provider"),
        "model": sr.get("model"),
        "error": sr.get("error"),
        # The approval this step run waits for (issue 19), else None.
        "awaitingApproval": sr.get("awaiting_approval"),
    }
    if light:
        return doc
    doc["approvals"] = {a["id"]: _approval(a) for a in sr.get("approvals") or []}
    chunks: dict[str, list[str | None]] = sr.get("chunks") or {}
    doc["calls"] = {c["id"]: _call(c, chunks.get(c["id"], [])) for c in sr.get("calls") or []}
    doc["reads"] = {a["id"]: _artifact(a) for a in sr.get("reads") or []}
    doc["writes"] = {a["id"]: _artifact(a) for a in sr.get("writes") or []}
    return doc


def stream_chunks(payloads: Iterable[dict[str, Any]], run: str) -> dict[str, dict[str, list]]:
    """``response.chunk`` deltas by step run and call id, in index order (a missing
    index as None), from the run's stored chunk events. A dense list is safe because
    ingest bounds ``index`` (``MAX_CHUNK_INDEX``); a larger stored one is left out."""
    by_call: dict[tuple[str, str], dict[int, str]] = {}
    for p in payloads:
        step = p.get("step")
        if not step:
            continue  # run-level calls are not in the run document (as in GraphQL)
        data = p.get("data") or {}
        sr = f"{run}/{step}#{p.get('attempt') or 1}"
        index = int(data["index"])
        if index > MAX_CHUNK_INDEX:
            continue  # stored before ingest bounded it: would make a huge dense list
        by_call.setdefault((sr, f"{run}/{data['call']}"), {})[index] = data["delta"]
    out: dict[str, dict[str, list]] = {}
    for (sr, call), parts in by_call.items():
        out.setdefault(sr, {})[call] = [parts.get(i) for i in range(max(parts) + 1)]
    return out


def run_document(
    run: dict[str, Any], step_runs: list[dict[str, Any]], *, light: bool = False
) -> Doc:
    """The run document (``light``: step runs without calls, reads and writes, as a
    pipeline card holds them)."""
    return {
        "id": run["id"],
        "pipeline": run.get("pipeline") or "",
        "version": int(run.get("version") or 0),
        "status": _status(run.get("status")),
        "scheduledFor": _time(run.get("scheduled_for")),
        "startedAt": _time(run.get("started_at")),
        "endedAt": _time(run.get("ended_at")),
        "durationMs": _int(run.get("duration_ms")),
        "inputTokens": int(run.get("input_tokens") or 0),
        "outputTokens": int(run.get("output_tokens") or 0),
        "costUsd": float(run.get("cost_usd") or 0.0),
        "costEstimated": bool(run.get("cost_estimated") or False),
        "error": run.get("error"),
        "trigger": run.get("trigger"),
        "steps": {sr["id"]: _step_run(sr, light=light) for sr in step_runs},
    }


# -- pipeline cards ---------------------------------------------------------------------


def pipeline_document(
    pipeline: dict[str, Any],
    owner: dict[str, Any] | None,
    sla: dict[str, Any] | None,
    steps: list[dict[str, Any]],
    runs: list[tuple[dict[str, Any], list[dict[str, Any]]]],
) -> Doc:
    return {
        "name": pipeline["name"],
        "version": pipeline.get("version"),
        "cardVersion": int(pipeline.get("card_version") or 0),
        "owner": _owner(owner),
        "sla": _sla(sla),
        "steps": {
            s["id"]: {
                "id": s["id"],
                "key": s.get("key") or s["id"].split("/", 1)[-1],
                "name": s.get("name"),
                "kind": s.get("kind"),
                "owner": _owner(s.get("owner")),
                "dependsOn": sorted(d.split("/", 1)[-1] for d in s.get("depends_on") or []),
            }
            for s in steps
        },
        "runs": {r["id"]: run_document(r, srs, light=True) for r, srs in runs[:CARD_RUNS]},
    }


# -- breaches --------------------------------------------------------------------------


def breach_document(b: dict[str, Any]) -> Doc:
    """The breach's own fields of GraphQL's ``SLABreach`` (api/graphql/alerts.py),
    camelCase: its SLA by id, and not its owners (admin changes to an SLA or an owner
    do not change the breach's version)."""
    if b.get("resolved_at") is not None:
        status = "RESOLVED"
    elif b.get("acknowledged_at") is not None:
        status = "ACKNOWLEDGED"
    else:
        status = "OPEN"
    return {
        "id": b["id"],
        "version": int(b.get("version") or 0),
        "kind": str(b["kind"]).upper(),
        "status": status,
        "observed": float(b["observed"]),
        "threshold": float(b["threshold"]),
        "at": _time(b["at"]),
        "detectedAt": _time(b.get("detected_at")),
        "pipeline": b.get("pipeline") or "",
        "step": b.get("step"),
        "subject": b.get("subject"),
        "provisional": bool(b.get("provisional")),
        "acknowledgedBy": b.get("acknowledged_by"),
        "acknowledgedAt": _time(b.get("acknowledged_at")),
        "resolvedBy": b.get("resolved_by"),
        "resolvedAt": _time(b.get("resolved_at")),
        "slaId": b.get("sla"),
    }


# -- variants, digests, patches ---------------------------------------------------------


def redacted(kind: str, doc: Doc | None) -> Doc | None:
    """What a principal without read:prompts sees: the same document with prompt and
    response text null and no chunks (only run documents hold any)."""
    if doc is None or kind != "run":
        return doc
    out = dict(doc)
    steps = {}
    for sr_id, sr in doc["steps"].items():
        sr = dict(sr)
        sr["calls"] = {
            cid: {**c, "prompt": None, "response": None, "chunks": []}
            for cid, c in sr.get("calls", {}).items()
        }
        steps[sr_id] = sr
    out["steps"] = steps
    return out


def variant_of(kind: str, doc: Doc | None, variant: str) -> Doc | None:
    return redacted(kind, doc) if variant == REDACTED else doc


def digest(doc: Doc | None) -> str:
    """Lower-case hex SHA-256 of the document's RFC 8785 (JCS) canonical JSON."""
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def make_patch(old: Doc | None, new: Doc | None) -> Patch:
    """The RFC 6902 operations that turn ``old`` into ``new`` (jsonpatch), with a list
    emptied at once (a call's chunks when its response arrives) as one ``replace``
    instead of one ``remove`` per item."""
    if old is None or new is None:
        return replace_whole(new)
    ops: Patch = jsonpatch.make_patch(old, new).patch
    removes: dict[str, int] = {}
    for op in ops:
        if op["op"] == "remove":
            parent = op["path"].rsplit("/", 1)[0]
            removes[parent] = removes.get(parent, 0) + 1
    emptied = set()
    for parent, n in removes.items():
        if n < 2:
            continue
        before = jsonpointer.resolve_pointer(old, parent, None)
        after = jsonpointer.resolve_pointer(new, parent, None)
        if isinstance(before, list) and after == [] and len(before) == n:
            emptied.add(parent)
    if not emptied:
        return ops
    out: Patch = []
    replaced: set[str] = set()
    for op in ops:
        parent = op["path"].rsplit("/", 1)[0]
        if op["op"] == "remove" and parent in emptied:
            if parent not in replaced:
                out.append({"op": "replace", "path": parent, "value": []})
                replaced.add(parent)
            continue
        out.append(op)
    return out


def replace_whole(doc: Doc | None) -> Patch:
    return [{"op": "replace", "path": "", "value": doc}]


def apply(doc: Doc | None, patch: Patch) -> Doc | None:
    """``patch`` applied to a copy of ``doc`` (tests and the benchmark's client)."""
    result: Doc | None = jsonpatch.apply_patch(copy.deepcopy(doc), patch)
    return result


def json_bytes(value: Any) -> int:
    return len(orjson.dumps(value))
