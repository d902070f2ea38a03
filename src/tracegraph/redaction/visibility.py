"""What callers without prompt access see of an event: its text-bearing keys removed."""

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


__all__ = ["HIDDEN_FIELDS", "without_prompt_text"]
