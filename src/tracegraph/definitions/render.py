"""A stored definition (``pipeline.defined`` data) as YAML text, in a stable key order:
the order of the contract (version, description, owner, schedule, sla, steps; each step
key, name, kind, depends_on, owner, sla, description), then any extension keys sorted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from tracegraph.audit.definitions import SLA_FIELDS

PIPELINE_ORDER = ("version", "description", "owner", "schedule", "sla", "steps")
STEP_ORDER = ("key", "name", "kind", "depends_on", "owner", "sla", "description")


class _Inline(list[Any]):
    """A list written in flow style: ``depends_on: [load, embed]``."""


class _Dumper(yaml.SafeDumper):
    pass


def _inline(dumper: yaml.SafeDumper, value: _Inline) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


_Dumper.add_representer(_Inline, _inline)


def _ordered(value: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = [k for k in order if value.get(k) is not None]
    extra = sorted(k for k in value if k not in order and value[k] is not None)
    return {k: value[k] for k in [*known, *extra]}


def _sla(sla: Mapping[str, Any]) -> dict[str, Any]:
    return _ordered(sla, SLA_FIELDS)


def _step(step: Mapping[str, Any]) -> dict[str, Any]:
    out = _ordered(step, STEP_ORDER)
    if out.get("depends_on"):
        out["depends_on"] = _Inline(out["depends_on"])
    else:
        out.pop("depends_on", None)  # [] and absent are the same definition
    if isinstance(out.get("sla"), Mapping):
        out["sla"] = _sla(out["sla"])
    return out


def definition_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with its keys in the stable order (what :func:`to_yaml` writes)."""
    out = _ordered(data, PIPELINE_ORDER)
    if isinstance(out.get("sla"), Mapping):
        out["sla"] = _sla(out["sla"])
    out["steps"] = [_step(st) for st in data.get("steps") or []]
    return out


def to_yaml(data: Mapping[str, Any]) -> str:
    """The definition as YAML; loading it back gives ``data`` again (``[]`` depends_on
    and absent ones being the same)."""
    return yaml.dump(
        definition_document(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
