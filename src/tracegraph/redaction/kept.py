"""The parts of an event kept as sent: the identifiers the graph is keyed on.

Everything else in an event's ``data`` — text, messages, template variables, params,
outputs, errors and stacks, schemas, OpenLineage facets, OTLP span attributes, extension
keys — is scrubbed. An identifier is not: scrubbing a call id, an artifact URI or an
owner would split one node into two or merge two into one, and an emitter chooses its
identifiers. The envelope (``id``, ``source``, ``pipeline``, ``run``, ``step``) is kept
too: ``source`` names the emitter (``sdk/python@worker-3.prod.internal`` would read as an
e-mail address). docs/governance.md has the table.
"""

from __future__ import annotations

from typing import TypeAlias

# ``True``: the whole value is kept; a dict: the listed keys of an object are (the others
# are scrubbed); a one-item list: what the item says applies to every element of an array.
Keep: TypeAlias = bool | dict[str, "Keep"] | list["Keep"]

# OTLP adapter bookkeeping: the span tree that places LLM calls in their steps.
_OTEL: dict[str, Keep] = {
    "otel": {"trace_id": True, "span_id": True, "parent_span_id": True, "role": True}
}
_MESSAGES: Keep = [{"role": True}]
_ARTIFACT: dict[str, Keep] = {
    **_OTEL,
    "uri": True,
    "version": True,
    "hash": True,
    "owner": True,
    "owners": True,  # the OpenLineage adapter's extra owners
    # Field names and types key Field nodes and schema comparisons (docs/columns.md);
    # descriptions stay scrubbed.
    "schema": {"fields": [{"name": True, "type": True, "fields": [{"name": True, "type": True}]}]},
    "parent_step": True,
}
_WRITTEN: dict[str, Keep] = {
    **_ARTIFACT,
    "column_lineage": [
        {
            "field": True,
            "type": True,
            "inputs": [
                {"uri": True, "version": True, "field": True, "type": True, "subtype": True}
            ],
        }
    ],
}

KEPT: dict[str, dict[str, Keep]] = {
    "pipeline.defined": {
        "version": True,
        "owner": True,
        "schedule": True,
        "sla": True,
        "steps": [{"key": True, "depends_on": True, "owner": True, "sla": True}],
    },
    "run.started": {**_OTEL, "pipeline_version": True},
    "step.started": {**_OTEL, "provider": True, "model": True},
    "prompt.sent": {
        **_OTEL,
        "call": True,
        "provider": True,
        "model": True,
        "template": {"name": True, "version": True},
        "messages": _MESSAGES,
    },
    "response.chunk": {"call": True, "index": True},
    # The id of the command a pause or resume honoured (issue 18) joins it to the command.
    "run.paused": {**_OTEL, "command": True},
    "run.resumed": {**_OTEL, "command": True},
    "response.received": {**_OTEL, "call": True, "messages": _MESSAGES},
    "artifact.read": _ARTIFACT,
    "artifact.written": _WRITTEN,
}
# Any other type (run.*, step.*, log): only the OTLP bookkeeping.
KEPT_BY_DEFAULT: dict[str, Keep] = _OTEL


def kept_in(event_type: str) -> dict[str, Keep]:
    return KEPT.get(event_type, KEPT_BY_DEFAULT)


__all__ = ["KEPT", "KEPT_BY_DEFAULT", "Keep", "kept_in"]
