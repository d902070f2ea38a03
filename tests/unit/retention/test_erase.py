"""Erasing a subject's text: whole texts go, figures and keys stay, JSON stays JSON."""

from __future__ import annotations

import orjson
import pytest

from tracegraph.retention.erase import ERASED, Eraser, check_subject, subject_hash
from tracegraph.retention.service import strip_payload_text


def test_text_mentioning_the_subject_is_erased_whole_and_figures_stay() -> None:
    eraser = Eraser("Alice@Example.com")
    payload = orjson.dumps(
        {
            "type": "prompt.sent",
            "run": "r1",
            "data": {
                "call": "c1",
                "text": "Write to alice@example.com about the refund",
                "variables": {"email": "ALICE@example.com", "order": "o-1"},
                "input_tokens": 42,
            },
        }
    ).decode()
    erased = orjson.loads(eraser.erase_string(payload, "payload"))
    assert erased["data"]["text"] == ERASED
    assert erased["data"]["variables"] == {"email": ERASED, "order": ERASED}
    assert erased["data"]["input_tokens"] == 42 and erased["run"] == "r1"
    assert not eraser.mentions(erased)


def test_other_strings_lose_the_subject_only_and_keys_are_kept() -> None:
    eraser = Eraser("user-4711")
    changed, kept = eraser.erase_properties(
        {
            "id": "run-for-user-4711",
            "prompt": "hi user-4711",
            "triggered_by": "cron for user-4711",
            "tokens": 10,
            "tags": ["a", "user-4711 b"],
            "unrelated": "nothing here",
        }
    )
    assert changed == {
        "prompt": ERASED,
        "triggered_by": f"cron for {ERASED}",
        "tags": ["a", f"{ERASED} b"],
    }
    assert kept == ["id"]


def test_text_that_does_not_mention_the_subject_is_untouched() -> None:
    eraser = Eraser("user-4711")
    text = '{"data": {"text": "user-4712 only"}}'
    assert eraser.erase_string(text, "payload") is text


def test_subjects_too_short_are_refused_and_hashes_ignore_case() -> None:
    with pytest.raises(ValueError, match="too short to erase by"):
        check_subject(" a ")
    assert subject_hash("Alice@Example.com") == subject_hash("alice@example.com ")


def test_text_retention_strips_the_payload_text_and_keeps_the_figures() -> None:
    payload = orjson.dumps(
        {"type": "response.received", "data": {"call": "c", "text": "answer", "output_tokens": 7}}
    ).decode()
    assert orjson.loads(strip_payload_text(payload)) == {
        "type": "response.received",
        "data": {"call": "c", "output_tokens": 7},
    }
    chunk = orjson.dumps({"type": "response.chunk", "data": {"delta": "ans", "index": 0}})
    assert orjson.loads(strip_payload_text(chunk.decode()))["data"] == {"delta": "", "index": 0}
