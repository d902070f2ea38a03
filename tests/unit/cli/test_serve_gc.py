"""`tracegraph serve` tunes the collector for a long-lived server before it starts."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tracegraph.cli import serve_command


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_serve_freezes_startup_objects_and_collects_young_objects_less_often() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    built_at_startup = [[] for _ in range(1000)]  # lists are tracked by the collector
    _, gen1, gen2 = gc.get_threshold()

    serve_command._tune_gc()

    assert gc.get_freeze_count() >= len(built_at_startup)
    assert gc.get_threshold() == (serve_command._GEN0_THRESHOLD, gen1, gen2)
    assert serve_command._GEN0_THRESHOLD > 700  # the interpreter's default
