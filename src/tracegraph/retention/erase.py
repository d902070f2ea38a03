"""Erasing a subject's text (pure: no I/O).

A subject is a user id or an email. Text that mentions it — anywhere in a prompt or a
response, its variables, metadata, a log message, a progress message, a run's parameters
or outputs, a quarantined raw event — is replaced by ``[ERASED]``; numbers (tokens,
cost, latency) are never touched. Values that are JSON documents (event payloads, a
call's messages or variables) are erased inside and stay valid JSON of the same shape,
so the event log still replays.

Rules, for a value that mentions the subject (case-insensitive):

- under a *text* key (:data:`TEXT_KEYS`: prompt, response, messages, variables, …) every
  string of the value becomes ``[ERASED]`` (the whole text goes, not just the match);
- any other string has each occurrence of the subject replaced by ``[ERASED]``;
- identifiers (:data:`KEY_PROPERTIES`: a node's id, name, uri) are never rewritten
  (the graph's keys); :func:`erase_properties` reports them instead.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

ERASED = "[ERASED]"

# Keys whose whole value is text a person wrote or a model answered.
TEXT_KEYS = frozenset(
    {
        "text",
        "prompt",
        "response",
        "messages",
        "prompt_messages",
        "response_messages",
        "content",
        "variables",
        "metadata",
        "context",
        "message",
        "delta",
        "params",
        "outputs",
        "raw",
        "error",
        "stack",
        "reason",
        "cancel_reason",
        "skip_reason",
    }
)
KEY_PROPERTIES = frozenset({"id", "name", "uri", "key"})


def subject_hash(subject: str) -> str:
    """What the audit trail keeps of a subject (never the subject itself)."""
    return hashlib.sha256(subject.strip().lower().encode()).hexdigest()


def check_subject(subject: str) -> str:
    """The subject to erase, or a clear error: too short a subject would erase far more
    than one person's text."""
    cleaned = subject.strip()
    if len(cleaned) < 3:
        raise ValueError(
            f"subject {subject!r} is too short to erase by (at least 3 characters: "
            "a user id or an email)"
        )
    return cleaned


class Eraser:
    def __init__(self, subject: str) -> None:
        self.subject = check_subject(subject)
        self._pattern = re.compile(re.escape(self.subject), re.IGNORECASE)
        self._lower = self.subject.lower()

    def mentions(self, value: Any) -> bool:
        if isinstance(value, str):
            return self._lower in value.lower()
        if isinstance(value, list | tuple):
            return any(self.mentions(v) for v in value)
        if isinstance(value, dict):
            return any(self.mentions(k) or self.mentions(v) for k, v in value.items())
        return False

    def _all_text(self, value: Any) -> Any:
        if isinstance(value, str):
            return ERASED
        if isinstance(value, list):
            return [self._all_text(v) for v in value]
        if isinstance(value, dict):
            return {self._replace(k): self._all_text(v) for k, v in value.items()}
        return value

    def _replace(self, text: str) -> str:
        return self._pattern.sub(ERASED, text)

    def erase_value(self, value: Any, key: str | None = None) -> Any:
        """``value`` (a decoded JSON value, under ``key``) with the subject's text erased."""
        if not self.mentions(value):
            return value
        if key in TEXT_KEYS:
            return self._all_text(value)
        if isinstance(value, str):
            return self._replace(value)
        if isinstance(value, list):
            return [self.erase_value(v, key) for v in value]
        if isinstance(value, dict):
            return {self._replace(k): self.erase_value(v, k) for k, v in value.items()}
        return value

    def erase_string(self, text: str, key: str | None) -> str:
        """A stored string property (or archive column): JSON documents are erased
        inside and re-encoded; plain text by the rules above."""
        if self._lower not in text.lower():
            return text
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                decoded = orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
            else:
                erased = self.erase_value(decoded, key)
                if not self.mentions(erased):
                    return orjson.dumps(erased).decode()
        if key in TEXT_KEYS:
            return ERASED
        return self._replace(text)

    def erase_properties(self, props: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The properties that change (only those), and the key properties that mention
        the subject and are kept (identifiers are not text)."""
        changed: dict[str, Any] = {}
        kept: list[str] = []
        for name, value in props.items():
            if not self.mentions(value):
                continue
            if name in KEY_PROPERTIES:
                kept.append(name)
                continue
            if isinstance(value, str):
                changed[name] = self.erase_string(value, name)
            elif isinstance(value, list):
                changed[name] = [
                    self.erase_string(v, name) if isinstance(v, str) else v for v in value
                ]
        return changed, kept
