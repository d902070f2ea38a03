"""The definition as it is live: the stored ``pipeline.defined`` data with the owners and
SLAs in the graph now laid over it (pipeline and steps).

Admins change owners and SLAs after a definition (``setOwner`` / ``setSla``, events
``pipeline.owner_set`` / ``pipeline.sla_set`` applied in seq order), and a winning
definition replaces them all. So the YAML the panel edits and the diff base must carry the
live ones: an unchanged submit then keeps them, and putting an old one back shows in the
diff (and needs the admin permission, :func:`governance_changes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracegraph.audit.definitions import Governance, sla_view
from tracegraph.definitions.diff import DefinitionDiff

# What a definition may change only with the matching admin permission (as setOwner /
# setSla need it): field -> permission name (tracegraph.auth.Permission values).
GOVERNED_FIELDS = {"owner": "admin:owners", "sla": "admin:slas"}


def _overlay(target: dict[str, Any], live: Governance) -> None:
    for name, value in (("owner", live.owner), ("sla", live.sla)):
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value


def with_live_governance(
    data: Mapping[str, Any], pipeline: Governance, steps: Mapping[str, Governance]
) -> dict[str, Any]:
    """``data`` (a stored definition) with the live owner and SLA of the pipeline and of
    each of its steps in place of the defined ones."""
    out = dict(data)
    _overlay(out, pipeline)
    out_steps = []
    for step in data.get("steps") or []:
        copy = dict(step)
        live = steps.get(str(step.get("key")))
        if live is not None:
            _overlay(copy, live)
        out_steps.append(copy)
    if "steps" in data:
        out["steps"] = out_steps
    return out


def governance(owner: str | None, sla: Mapping[str, Any] | None) -> Governance:
    return Governance(owner=owner or None, sla=sla_view(sla))


def governance_changes(diff: DefinitionDiff) -> list[str]:
    """The admin permissions a change needs, in a stable order: an owner or an SLA of the
    pipeline or of a kept step changed, or a step added or removed with one."""
    needed: set[str] = set()
    for change in diff.changes:
        if change.field in GOVERNED_FIELDS:
            needed.add(GOVERNED_FIELDS[change.field])
        elif change.field is None and change.step is not None:
            whole = change.after if change.after is not None else change.before
            if isinstance(whole, Mapping):
                needed.update(p for f, p in GOVERNED_FIELDS.items() if whole.get(f) is not None)
    return sorted(needed)
