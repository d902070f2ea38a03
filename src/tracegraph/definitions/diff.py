"""What a proposed definition changes against the current one.

Structured, field by field: the pipeline's own fields (``sla`` and any extension key as
a whole), then steps matched by key — a step added or removed is one change, a step kept
lists each field that differs. The version is not a change of its own: a submission
always brings a new one (``DefinitionDiff.from_version`` / ``to_version``). A unified text
diff of the two YAML texts (as :func:`render.to_yaml` writes them) goes with it.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracegraph.definitions.render import PIPELINE_ORDER, STEP_ORDER, definition_document, to_yaml


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    step: str | None  # the step's key; None for a field of the pipeline
    field: str | None  # None when a whole step was added or removed
    before: Any = None
    after: Any = None


@dataclass(frozen=True, slots=True)
class DefinitionDiff:
    from_version: str | None
    to_version: str | None
    changes: tuple[Change, ...]
    text: str  # unified diff, "" when the texts are equal


def _fields(a: Mapping[str, Any], b: Mapping[str, Any], order: tuple[str, ...]) -> list[str]:
    rest = sorted((set(a) | set(b)) - set(order))
    return [k for k in (*order, *rest) if a.get(k) != b.get(k)]


def _kind(before: Any, after: Any) -> ChangeKind:
    if before is None:
        return ChangeKind.ADDED
    return ChangeKind.REMOVED if after is None else ChangeKind.CHANGED


def diff_definitions(
    current: Mapping[str, Any] | None, proposed: Mapping[str, Any]
) -> DefinitionDiff:
    """``proposed`` against ``current`` (None: the pipeline has no definition yet)."""
    old = definition_document(current or {})
    new = definition_document(proposed)
    changes: list[Change] = []
    pipeline_fields = tuple(k for k in PIPELINE_ORDER if k not in ("version", "steps"))
    for name in _fields(
        {k: v for k, v in old.items() if k not in ("version", "steps")},
        {k: v for k, v in new.items() if k not in ("version", "steps")},
        pipeline_fields,
    ):
        changes.append(
            Change(_kind(old.get(name), new.get(name)), None, name, old.get(name), new.get(name))
        )
    old_steps = {st["key"]: st for st in old["steps"]}
    new_steps = {st["key"]: st for st in new["steps"]}
    for key, st in old_steps.items():
        if key not in new_steps:
            changes.append(Change(ChangeKind.REMOVED, key, None, _plain(st), None))
    for key, st in new_steps.items():
        before = old_steps.get(key)
        if before is None:
            changes.append(Change(ChangeKind.ADDED, key, None, None, _plain(st)))
            continue
        for name in _fields(before, st, STEP_ORDER):
            changes.append(
                Change(
                    _kind(before.get(name), st.get(name)),
                    key,
                    name,
                    _plain(before.get(name)),
                    _plain(st.get(name)),
                )
            )
    order_before = [k for k in old_steps if k in new_steps]
    order_after = [k for k in new_steps if k in old_steps]
    if order_before != order_after:
        changes.append(Change(ChangeKind.CHANGED, None, "steps (order)", order_before, order_after))
    old_text = to_yaml(current) if current is not None else ""
    text = "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True),
            to_yaml(proposed).splitlines(keepends=True),
            fromfile=f"version {old.get('version')}" if current is not None else "(none)",
            tofile=f"version {new.get('version')}",
        )
    )
    return DefinitionDiff(old.get("version"), new.get("version"), tuple(changes), text)


def _plain(value: Any) -> Any:
    """Plain JSON values (the renderer's inline lists are lists)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
