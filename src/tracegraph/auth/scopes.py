"""Write scopes of API keys: the pipeline name patterns a key may write events for.

A scope is a list of glob patterns (``fnmatch``: ``*`` any run of characters, ``?`` one,
``[abc]`` one of a set), matched case-sensitively against the whole pipeline name, as
pipeline names are keys of the graph. A key without a scope writes to any pipeline,
as before scopes existed. A scoped key's event for a pipeline that matches none of its
patterns is refused (and quarantined) with the reason; so is a scoped key's event that
names no pipeline (a ``log`` line may omit it), since nothing says it is in scope.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

# Enough for any real grouping of pipelines; a bound keeps every check cheap.
MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 200
# The characters of a pipeline name (events/patterns.py: NAME_PATTERN), plus glob syntax.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "._-/:@")
_GLOB_CHARS = frozenset("*?[]!")


class InvalidScope(ValueError):
    """A write scope that cannot be stored; the message names the bad pattern."""


@dataclass(frozen=True, slots=True)
class WriteScope:
    """The pipeline patterns one key may write to (never empty)."""

    patterns: tuple[str, ...]

    def allows(self, pipeline: str | None) -> bool:
        return pipeline is not None and any(fnmatchcase(pipeline, p) for p in self.patterns)

    def refusal(self, pipeline: str | None) -> str:
        """Why an event for ``pipeline`` is refused (the 207's and quarantine's reason)."""
        allowed = ", ".join(self.patterns)
        if pipeline is None:
            return (
                f"pipeline: required for this key, whose write scope is limited to "
                f"pipelines matching {allowed}"
            )
        return (
            f"pipeline: {pipeline!r} is outside this key's write scope "
            f"(pipelines matching {allowed})"
        )

    def run_refusal(self, run: str, owners: frozenset[str], claimed: str) -> str | None:
        """Why an event claiming ``claimed`` for a stored run of ``owners`` is refused,
        or None. The scope is about the data written, and an event writes its run: a
        run of a pipeline outside the scope is not the key's to fail, finish or attach
        steps to, whatever pipeline the event claims; nor may the key move its own run
        to another pipeline (it would leave the run on two)."""
        outside = sorted(p for p in owners if not self.allows(p))
        if outside:
            return (
                f"run: {run!r} belongs to pipeline {outside[0]!r}, outside this key's "
                f"write scope (pipelines matching {', '.join(self.patterns)})"
            )
        others = sorted(owners - {claimed})
        if others:
            return f"run: {run!r} belongs to pipeline {others[0]!r}, not {claimed!r}"
        return None


def _check_pattern(pattern: str) -> str:
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidScope(
            f"scope {pattern!r}: a pattern must be 1-{MAX_PATTERN_LENGTH} characters"
        )
    bad = sorted({c for c in pattern if c not in _NAME_CHARS and c not in _GLOB_CHARS})
    if bad:
        raise InvalidScope(
            f"scope {pattern!r}: {''.join(bad)!r} cannot occur in a pipeline name "
            "(letters, digits, ._-/:@ and the glob characters * ? [ ] !)"
        )
    return pattern


def parse_scope(patterns: Sequence[str] | None) -> WriteScope | None:
    """A checked scope; None is an unrestricted key."""
    if patterns is None:
        return None
    cleaned = [p.strip() for p in patterns]
    if not cleaned:
        # Not "no limit": an admin whose list came out empty must not mint an open key.
        raise InvalidScope(
            "a write scope needs at least one pattern (omit it for a key that may write "
            "to any pipeline)"
        )
    if len(cleaned) > MAX_PATTERNS:
        raise InvalidScope(f"a write scope has at most {MAX_PATTERNS} patterns")
    # Order kept (as the admin wrote it), duplicates dropped.
    unique = tuple(dict.fromkeys(_check_pattern(p) for p in cleaned))
    return WriteScope(unique)


def scope_of_stored(patterns: Sequence[str] | None) -> WriteScope | None:
    """The scope of a stored key (checked when it was stored): None or empty is none."""
    return WriteScope(tuple(patterns)) if patterns else None
