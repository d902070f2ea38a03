"""Write scopes of API keys: which pipeline names a pattern list admits, and which
pattern lists are refused before they are stored."""

from __future__ import annotations

import pytest

from tracegraph.auth.scopes import MAX_PATTERNS, InvalidScope, WriteScope, parse_scope
from tracegraph.ingest.service import IngestService


def test_no_scope_is_an_unrestricted_key() -> None:
    assert parse_scope(None) is None


@pytest.mark.parametrize(
    ("patterns", "pipeline", "allowed"),
    [
        (["rag-*"], "rag-nightly", True),
        (["rag-*"], "rag-", True),
        (["rag-*"], "Rag-nightly", False),  # names are keys: case matters
        (["rag-*"], "my-rag-nightly", False),  # the whole name, not a substring
        (["rag-*"], "eval-nightly", False),
        (["rag-*", "eval-?"], "eval-1", True),
        (["eval-?"], "eval-12", False),
        (["team/[ab]-*"], "team/a-x", True),
        (["team/[!ab]-*"], "team/a-x", False),
        (["exact"], "exact", True),
        (["rag-*"], None, False),  # an event naming no pipeline is not in any scope
    ],
)
def test_patterns_match_whole_pipeline_names(
    patterns: list[str], pipeline: str | None, allowed: bool
) -> None:
    scope = parse_scope(patterns)
    assert scope is not None
    assert scope.allows(pipeline) is allowed


def test_duplicates_are_dropped_and_order_kept() -> None:
    assert parse_scope([" rag-* ", "eval-*", "rag-*"]) == WriteScope(("rag-*", "eval-*"))


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([], "at least one pattern"),
        ([""], "1-200 characters"),
        (["x" * 201], "1-200 characters"),
        (["rag nightly"], "' ' cannot occur in a pipeline name"),
        (["rag,eval"], "',' cannot occur in a pipeline name"),
        ([f"p{i}" for i in range(MAX_PATTERNS + 1)], f"at most {MAX_PATTERNS} patterns"),
    ],
)
def test_bad_scopes_are_refused_with_the_reason(patterns: list[str], message: str) -> None:
    with pytest.raises(InvalidScope, match=message):
        parse_scope(patterns)


def _event(pipeline: str | None, n: int) -> dict:
    event = {
        "id": f"scope-{n}",
        "type": "log",
        "time": "2026-11-20T02:00:00.000Z",
        "source": "tests",
        "data": {"level": "info", "message": "hello"},
    }
    if pipeline is not None:
        event["pipeline"] = pipeline
    return event


def test_ingest_refuses_events_outside_the_scope_and_keeps_the_others() -> None:
    service = IngestService(None, None)  # type: ignore[arg-type]  # prepare needs no writer
    scope = parse_scope(["rag-*"])
    raw = [_event("rag-nightly", 0), _event("eval-nightly", 1), _event(None, 2)]

    unit = service.prepare(raw, "key:rag-emitter", scope)

    assert [ev.payload["pipeline"] for ev in unit.events] == ["rag-nightly"]
    assert [(q.index, q.event_id) for q in unit.rejected] == [(1, "scope-1"), (2, "scope-2")]
    assert unit.rejected[0].reason == (
        "pipeline: 'eval-nightly' is outside this key's write scope (pipelines matching rag-*)"
    )
    assert unit.rejected[1].reason == (
        "pipeline: required for this key, whose write scope is limited to pipelines matching rag-*"
    )
    # Quarantined as received.
    assert '"pipeline":"eval-nightly"' in unit.rejected[0].raw


def test_ingest_without_a_scope_stores_every_valid_event() -> None:
    service = IngestService(None, None)  # type: ignore[arg-type]
    unit = service.prepare([_event("eval-nightly", 0), _event(None, 1)], "key:any")
    assert len(unit.events) == 2 and unit.rejected == []
