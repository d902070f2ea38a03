"""Definition versions: a submitted version must be new for its pipeline, or one is
generated (the next number after the highest numeric version, else after the count)."""

from __future__ import annotations

from collections.abc import Collection


def version_problem(version: str, used: Collection[str]) -> str | None:
    """Why ``version`` cannot be submitted again, or None when it is new."""
    if version not in used:
        return None
    return (
        f"version {version!r} already exists for this pipeline: choose a new one, or leave "
        "version out to have one generated"
    )


def next_version(used: Collection[str]) -> str:
    """A version not in ``used``: one past the highest whole-number version (or past the
    number of versions when none is a number), so "3" follows "1", "2"."""
    numbers = [int(v) for v in used if v.isdecimal()]
    n = max(numbers, default=len(used)) + 1
    while str(n) in used:
        n += 1
    return str(n)
