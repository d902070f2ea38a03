"""Applying a policy's rules to events: which fields are text, and counting what went.

``Scrubber`` is immutable and safe to share; a policy change builds a new one. Each
scrub returns the scrubbed value and a :class:`Redactions` count per rule name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from tracegraph.redaction.rules import Pattern, Rule

# How many redactions of each rule name a value or event had.
Redactions = Counter[str]


@dataclass(frozen=True, slots=True)
class RedactionCount:
    """What the graph records of an event's redactions: how many, and by which rules."""

    total: int = 0
    kinds: tuple[str, ...] = ()

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> RedactionCount:
        kinds = tuple(sorted(k for k, n in counts.items() if n > 0))
        return cls(sum(counts[k] for k in kinds), kinds)


# Event types whose text is scrubbed, and the `data` keys holding the text.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "prompt.sent": ("text", "messages", "variables"),
    "response.chunk": ("delta",),
    "response.received": ("text", "messages"),
    "log": ("message", "context"),
}
# Message keys that are structure, not content (everything else in a message is scrubbed).
_MESSAGE_STRUCTURE = frozenset({"role"})
# The "anything to do?" pre-check is one RE2 program over every pattern; it may need more
# memory than one rule, and without it every rule still runs (only slower).
_PRECHECK_MAX_MEM = 64 << 20


def _precheck(rules: Iterable[Rule]) -> Any:
    sources = [f"(?:{p.regex.pattern})" for rule in rules for p in rule.patterns]
    if not sources:
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PRECHECK_MAX_MEM
    options.never_capture = True
    try:
        return re2.compile("|".join(sources), options)
    except re2.error:
        return None


class Scrubber:
    """Replaces every match of its rules, in order, with ``[REDACTED:<rule>]``."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._precheck = _precheck(self.rules)

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    # -- text and values ---------------------------------------------------------------------

    def scrub_text(self, text: str, counts: Redactions) -> str:
        """``text`` with every rule applied; ``counts`` grows by what was redacted."""
        if not text or not self.rules:
            return text
        if self._precheck is not None and self._precheck.search(text) is None:
            return text
        for rule in self.rules:
            for pattern in rule.patterns:
                text = _apply(rule, pattern, text, counts)
        return text

    def scrub_value(self, value: Any, counts: Redactions) -> Any:
        """Every string inside a JSON value (nested lists and objects) scrubbed."""
        if isinstance(value, str):
            return self.scrub_text(value, counts)
        if isinstance(value, list):
            return [self.scrub_value(item, counts) for item in value]
        if isinstance(value, dict):
            return {key: self.scrub_value(item, counts) for key, item in value.items()}
        return value

    # -- events ------------------------------------------------------------------------------

    def scrub_event(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], Redactions]:
        """A canonical event with its prompt, response or log text scrubbed.

        Only the text-bearing fields of ``TEXT_FIELDS`` change; ids, names and numbers
        are kept as they are (they are what the graph is keyed on).
        """
        counts: Redactions = Counter()
        fields = TEXT_FIELDS.get(str(payload.get("type")))
        data = payload.get("data")
        if not fields or not isinstance(data, dict) or not self.rules:
            return dict(payload), counts
        scrubbed = dict(data)
        for key in fields:
            if key not in scrubbed:
                continue
            if key == "messages":
                scrubbed[key] = self._scrub_messages(scrubbed[key], counts)
            else:
                scrubbed[key] = self.scrub_value(scrubbed[key], counts)
        if not counts:
            return dict(payload), counts
        return {**payload, "data": scrubbed}, counts

    def _scrub_messages(self, messages: Any, counts: Redactions) -> Any:
        if not isinstance(messages, list):
            return self.scrub_value(messages, counts)
        out = []
        for message in messages:
            if isinstance(message, dict):
                out.append(
                    {
                        key: value if key in _MESSAGE_STRUCTURE else self.scrub_value(value, counts)
                        for key, value in message.items()
                    }
                )
            else:
                out.append(self.scrub_value(message, counts))
        return out

    def scrub_raw(self, raw: Any) -> tuple[Any, Redactions]:
        """A rejected event as received, every string in it scrubbed (for the quarantine)."""
        counts: Redactions = Counter()
        return self.scrub_value(raw, counts), counts


def _apply(rule: Rule, pattern: Pattern, text: str, counts: Redactions) -> str:
    found = 0

    def replace(match: Any) -> str:
        nonlocal found
        whole: str = match.group(0)
        part = match.group(pattern.group)
        if not whole or not part or (pattern.accept is not None and not pattern.accept(part)):
            return whole
        found += 1
        if pattern.group == 0:
            return rule.replacement
        start = match.start(0)
        left, right = match.span(pattern.group)
        return whole[: left - start] + rule.replacement + whole[right - start :]

    result: str = pattern.regex.sub(replace, text)
    if found:
        counts[rule.name] += found
    return result


NO_REDACTION = Scrubber(())

__all__ = ["NO_REDACTION", "TEXT_FIELDS", "RedactionCount", "Redactions", "Scrubber"]
