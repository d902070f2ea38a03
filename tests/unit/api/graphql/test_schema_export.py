"""The committed SDL (schema/schema.graphql) is what the code exports."""

from __future__ import annotations

from tracegraph.api.graphql.export import SDL_PATH, sdl


def test_schema_sdl_is_current() -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == sdl(), (
        "schema/schema.graphql is stale: run python -m tracegraph.api.graphql.export"
    )
