"""Applying a policy's rules to events, every string but the kept identifiers, and counting.

``Scrubber`` is immutable and safe to share; a policy change builds a new one. Each
scrub returns the scrubbed value and a :class:`Redactions` count per rule name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from tracegraph.redaction.kept import Keep, kept_in
from tracegraph.redaction.precheck import (
    MARKER_SOURCE,
    event_precheck,
    nothing_to_scrub,
    text_precheck,
)
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
        if not counts:  # most events: nothing was redacted
            return _NONE
        kinds = tuple(sorted(k for k, n in counts.items() if n > 0))
        return cls(sum(counts[k] for k in kinds), kinds)


_NONE = RedactionCount()
_MARKER = re2.compile(MARKER_SOURCE)


class Scrubber:
    """Replaces every match of its rules, in order, with ``[REDACTED:<rule>]``."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._precheck = text_precheck(self.rules)
        self._event_precheck = event_precheck(self.rules)

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
        if "[REDACTED:" in text:  # stored scrubbed, sent again: see precheck.MARKER_SOURCE
            for marker in _MARKER.finditer(text):
                counts[marker.group(1)] += 1
        for rule in self.rules:
            for pattern in rule.patterns:
                text = _apply(rule, pattern, text, counts)
        return text

    def scrub_value(self, value: Any, counts: Redactions) -> Any:
        """Every string inside a JSON value (nested lists and objects) scrubbed; keys kept."""
        return self._walk(value, False, counts)

    def _walk(self, value: Any, keep: Keep, counts: Redactions) -> Any:
        """``value`` scrubbed but for what ``keep`` keeps (see redaction.kept).

        Copy on write: an unchanged value comes back as the same object, so a payload
        without secrets costs one pre-check per string and no allocation.
        """
        if keep is True:
            return value
        if isinstance(value, str):
            scrubbed = self.scrub_text(value, counts)
            return value if scrubbed == value else scrubbed
        if isinstance(value, dict):
            inner = keep if isinstance(keep, dict) else None
            out: dict[str, Any] | None = None
            for key, item in value.items():
                new = self._walk(item, inner.get(key, False) if inner else False, counts)
                if new is not item:
                    if out is None:
                        out = dict(value)
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list):
            each = keep[0] if isinstance(keep, list) else False
            items: list[Any] | None = None
            for index, item in enumerate(value):
                new = self._walk(item, each, counts)
                if new is not item:
                    if items is None:
                        items = list(value)
                    items[index] = new
            return value if items is None else items
        return value

    # -- events ------------------------------------------------------------------------------

    def scrub_event(self, payload: Mapping[str, Any]) -> tuple[dict[str, Any], Redactions]:
        """A canonical event with every string of its ``data`` scrubbed.

        The identifiers of ``redaction.kept`` and the envelope (id, source, pipeline,
        run, step) are kept as they are: they are what the graph is keyed on, and who
        sent the event.
        """
        counts: Redactions = Counter()
        if not self.rules or (
            self._event_precheck is not None and nothing_to_scrub(payload, self._event_precheck)
        ):
            return dict(payload), counts
        data = self._walk(payload.get("data"), kept_in(str(payload.get("type"))), counts)
        if not counts:
            return dict(payload), counts
        return {**payload, "data": data}, counts

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

__all__ = ["NO_REDACTION", "RedactionCount", "Redactions", "Scrubber"]
