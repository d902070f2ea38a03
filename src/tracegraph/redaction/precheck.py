""" "Anything to scrub here?" in one RE2 search, so that ordinary payloads stay cheap.

Every pattern of a policy (and the marker of an earlier redaction) joined into one
program answers whether any rule could match; only then do the rules run one by one.
A search through the Python binding costs about 2 µs whatever the text's length, so an
event is checked as a whole — one search over its JSON — rather than string by string.

That is sound (a secret in any string is found) because in JSON without a backslash
every string stands verbatim between two ``"``, and a quote, like the end of a text, is
no word character: ``\\b`` and ``\\B`` behave at a string's edges as they do on the
string alone, and a match of a rule inside a string is a match inside the JSON. JSON
with a backslash breaks that (orjson escapes ``"``, ``\\`` and control characters, and
``"a\\nsk-…"`` has no word boundary before ``sk-``): such an event is checked as its
strings joined by newlines instead. Anchors (``^``, ``$``, ``\\A``, ``\\z``) would not
match mid-text at all, so a policy with a rule that has one checks every string on its
own (slower, still exact). Matches across strings or in the kept identifiers only send
an event down the slow path, which scrubs exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import re2

from tracegraph.redaction.rules import Rule

# One program over every pattern may need more memory than one rule; without it every
# rule still runs (only slower).
_PRECHECK_MAX_MEM = 64 << 20

# A replacement already in the text: an event re-sent as it was stored (the OTLP adapter
# re-sends an LLM call's stored events once its step is known; a quarantine entry is
# resubmitted as kept). It counts again, so an event's count is the number of markers it
# is stored with, however often it went through the scrubber.
MARKER_SOURCE = r"\[REDACTED:([a-z][a-z0-9_]{0,39})\]"
_ANCHORS = ("^", "$", r"\A", r"\z")


def _sources(rules: Iterable[Rule]) -> list[str]:
    sources = [f"(?:{p.regex.pattern})" for rule in rules for p in rule.patterns]
    return [*sources, MARKER_SOURCE] if sources else []


def _compile(pattern: str | bytes) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PRECHECK_MAX_MEM
    options.never_capture = True
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


def text_precheck(rules: Iterable[Rule]) -> Any:
    """The pre-check of one string (None: none possible, run every rule)."""
    sources = _sources(rules)
    return _compile("|".join(sources)) if sources else None


def event_precheck(rules: Iterable[Rule]) -> Any:
    """The pre-check of a whole event's JSON (bytes); None when no rule may use it."""
    sources = _sources(rules)
    if not sources or any(anchor in s for s in sources for anchor in _ANCHORS):
        return None
    return _compile("|".join(sources).encode())


def _collect(value: Any, into: list[str]) -> list[str]:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect(item, into)
    return into


def nothing_to_scrub(payload: Mapping[str, Any], precheck: Any) -> bool:
    """True when no rule can match any string of ``payload`` (``precheck``: from
    :func:`event_precheck`). False means "maybe": scrub it string by string."""
    try:
        blob = orjson.dumps(payload)
    except TypeError:  # not JSON (never so for a canonical payload): check it all
        return False
    if b"\\" in blob:
        blob = "\n".join(_collect(list(payload.values()), [])).encode()
    return precheck.search(blob) is None


__all__ = ["MARKER_SOURCE", "event_precheck", "nothing_to_scrub", "text_precheck"]
