"""What callers without prompt access see of an event: its text-bearing keys removed;
and what callers who may not read the redaction policy see of a policy change."""

from __future__ import annotations

from typing import Any

# Text of prompts and responses; log text is not prompt text and stays visible.
HIDDEN_FIELDS: dict[str, tuple[str, ...]] = {
    "prompt.sent": ("text", "messages", "variables"),
    "response.chunk": ("delta",),
    "response.received": ("text", "messages"),
}


def without_prompt_text(event_type: str, data: Any) -> Any:
    """``data`` minus prompt/response text, with ``hidden`` naming what was removed."""
    fields = HIDDEN_FIELDS.get(event_type)
    if not fields or not isinstance(data, dict):
        return data
    hidden = [key for key in fields if key in data]
    if not hidden:
        return data
    out = {key: value for key, value in data.items() if key not in fields}
    out["hidden"] = hidden
    return out


# Events whose whole data is the redaction policy (every custom rule's name and regex):
# shown only to callers who may read the policy itself (admin:policy), as
# `redactionPolicy` is.
POLICY_EVENT_TYPES = frozenset({"redaction.policy_set"})


def without_policy(event_type: str, data: Any) -> Any:
    """``data`` of a policy change reduced to ``hidden`` (the keys removed); others as is."""
    if event_type not in POLICY_EVENT_TYPES or not isinstance(data, dict):
        return data
    return {"hidden": sorted(data)}


__all__ = ["HIDDEN_FIELDS", "POLICY_EVENT_TYPES", "without_policy", "without_prompt_text"]
