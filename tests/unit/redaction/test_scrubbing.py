"""Scrubbing rules without a database: each built-in kind, look-alikes kept, custom rules,
invalid policies, the whole-event precheck and what each event type keeps."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
import pytest

from tracegraph.redaction import (
    BUILTIN_NAMES,
    InvalidRedactionRule,
    Scrubber,
    luhn_valid,
    make_policy,
    without_prompt_text,
)

EMAIL = "alice.smith+billing@example.co.uk"


CARD = "4111 1111 1111 1111"  # a Luhn-valid test Visa number


NOT_A_CARD = "4111 1111 1111 1112"  # same shape, Luhn-invalid: an order id, say


OPENAI = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0"


ANTHROPIC = "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Xv3bT0q9v2kS8mJm1Yf4pW0zR6nL5cQe7uH2dA1sB9o"


TRACEGRAPH = "tg_0a1b2c3d4e5f_mJj6lWGlFygvPfD9Uma4tLIOY9tdgoDnzo47WlvrAfY"  # our own key format


def _all() -> Scrubber:
    return make_policy(BUILTIN_NAMES, {}).scrubber()


@pytest.mark.parametrize(
    ("kind", "text", "secret"),
    [
        ("api_key", f"use {OPENAI} please", OPENAI),
        ("api_key", f"key={ANTHROPIC}", ANTHROPIC),
        ("api_key", "legacy sk-Qw1Er2Ty3Ui4Op5As6Df7Gh8Jk9L", "sk-Qw1Er2Ty3Ui4Op5As6Df7Gh8Jk9L"),
        ("api_key", "aws AKIAIOSFODNN7EXAMPLE id", "AKIAIOSFODNN7EXAMPLE"),
        ("api_key", "temporary ASIAY34FZKBOKMUTVV7A id", "ASIAY34FZKBOKMUTVV7A"),
        ("api_key", f"ours {TRACEGRAPH}", TRACEGRAPH),
        ("api_key", f"Authorization: Bearer {TRACEGRAPH}", "mJj6lWGlFygvPfD9"),
        ("api_key", f"cut short {TRACEGRAPH[:32]}…", TRACEGRAPH[:32]),
        ("api_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrX"),
        ("api_key", "gh ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "ghp_a1B2c3D4e5F6g7H8i9J0"),
        ("api_key", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABC"),
        ("api_key", "slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012"),
        ("api_key", "google AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2C3d4E5f6"),
        ("api_key", "config api_key=9f8e7d6c5b4a3210 rest", "9f8e7d6c5b4a3210"),
        ("api_key", '{"apiKey": "abc123def456ghi"}', "abc123def456ghi"),
        ("api_key", "x-api-key: Zm9vYmFyMTIzNDU2", "Zm9vYmFyMTIzNDU2"),
        ("bearer_token", "Authorization: Bearer abc123.def-456_ghi", "abc123.def-456_ghi"),
        ("bearer_token", f"token {JWT} end", JWT),
        ("email", f"mail {EMAIL} now", EMAIL),
        ("credit_card", f"card {CARD} ok", CARD),
        ("credit_card", "card 5555-5555-5555-4444 ok", "5555-5555-5555-4444"),
        ("credit_card", "amex 378282246310005.", "378282246310005"),
    ],
)
def test_each_builtin_kind_is_redacted(kind: str, text: str, secret: str) -> None:
    counts: Counter[str] = Counter()
    out = _all().scrub_text(text, counts)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == {kind: 1}
    # Scrubbing scrubbed text changes nothing and counts the same (re-submitted quarantine
    # entries, OTLP adoption): the count is the number of markers the text is stored with.
    again: Counter[str] = Counter()
    assert _all().scrub_text(out, again) == out and again == counts


@pytest.mark.parametrize(
    "text",
    [
        f"order {NOT_A_CARD} shipped",  # Luhn-invalid
        "order 4111111111111112",  # Luhn-invalid, no separators
        "epoch 1717171717171 ms",  # 13 digits, Luhn-valid, but no card network starts with 1
        "api_key: YOUR_KEY_HERE",  # a placeholder, not a key (no digit)
        "the bearer instrument",  # prose, not a token
        "task-management is not sk-ish",
        "version 2.4.1-beta, 3 retries, 12 ms",
    ],
)
def test_lookalikes_are_not_redacted(text: str) -> None:
    counts: Counter[str] = Counter()
    assert _all().scrub_text(text, counts) == text
    assert not counts


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_custom_rule_and_its_replacement_text() -> None:
    scrubber = make_policy(["email"], {"order_id": r"ORD-[0-9]{6}"}).scrubber()
    counts: Counter[str] = Counter()
    out = scrubber.scrub_text(f"ORD-123456 for {EMAIL}, ORD-12 too short", counts)
    assert out == "[REDACTED:order_id] for [REDACTED:email], ORD-12 too short"
    assert counts == {"order_id": 1, "email": 1}


@pytest.mark.parametrize(
    ("builtins", "rules", "message"),
    [
        ([], {"bad": "(unclosed"}, "custom redaction rule 'bad': invalid RE2 regular expression"),
        ([], {"look": "(?=x)y"}, "custom redaction rule 'look': invalid RE2"),
        ([], {"backref": r"(a)\1"}, "custom redaction rule 'backref': invalid RE2"),
        ([], {"empty": "x*"}, "custom redaction rule 'empty': the pattern 'x*' matches the empty"),
        ([], {"Bad Name": "x"}, "invalid redaction rule name 'Bad Name'"),
        ([], {"email": "x"}, "custom redaction rule 'email' has the name of a built-in"),
        (["phone"], {}, "unknown built-in redaction rule 'phone'; the built-ins are api_key"),
        (["email", "email"], {}, "built-in redaction rule 'email' is listed twice"),
    ],
)
def test_invalid_policies_are_rejected_naming_the_rule(
    builtins: list[str], rules: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidRedactionRule) as err:
        make_policy(builtins, rules)
    assert message in str(err.value)


def test_a_pathological_custom_regex_runs_in_linear_time() -> None:
    # (a+)+$ backtracks exponentially in a backtracking engine; RE2 does not backtrack.
    scrubber = make_policy([], {"evil": r"(a+)+$"}).scrubber()
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    out = scrubber.scrub_text("a" * 50_000 + "!", counts)
    assert time.perf_counter() - started < 2.0
    assert out.endswith("!") and not counts


def test_event_fields_scrubbed_and_others_kept() -> None:
    payload = {
        "id": "e1",
        "type": "prompt.sent",
        "run": f"run-{EMAIL}",  # ids are never rewritten: the graph is keyed on them
        "data": {
            "call": "c1",
            "model": "m",
            "text": f"write to {EMAIL}",
            "messages": [
                {"role": "user", "content": f"my card is {CARD}"},
                {"role": "user", "content": [{"type": "text", "text": f"key {OPENAI}"}]},
            ],
            "variables": {"customer": {"email": EMAIL, "n": 4111111111111111}, "k": ["x"]},
            "params": {"note": EMAIL},  # not prompt text, but scrubbed all the same
        },
    }
    out, counts = _all().scrub_event(payload)
    assert counts == {"email": 3, "credit_card": 1, "api_key": 1}
    assert out["run"] == f"run-{EMAIL}"
    assert out["data"]["params"] == {"note": "[REDACTED:email]"}
    assert (out["data"]["call"], out["data"]["model"]) == ("c1", "m")
    assert [m["role"] for m in out["data"]["messages"]] == ["user", "user"]
    assert out["data"]["text"] == "write to [REDACTED:email]"
    assert out["data"]["messages"][1]["content"][0]["text"] == "key [REDACTED:api_key]"
    assert out["data"]["variables"]["customer"] == {
        "email": "[REDACTED:email]",
        "n": 4111111111111111,
    }
    assert payload["data"]["text"] == f"write to {EMAIL}"  # the input is not mutated


def _log(message: str, **data: Any) -> dict[str, Any]:
    return {"id": "e", "type": "log", "source": "t", "data": {"message": message, **data}}


@pytest.mark.parametrize(
    "message",
    [
        f"line one\n{OPENAI}",  # an escape right before the secret: no \b in the JSON
        f'config {{"api_key": "9f8e7d6c5b4a3210"}} and\t{EMAIL}',  # escaped quotes
        f"tab\t{TRACEGRAPH}\n",
        f"plain {JWT}",
    ],
)
def test_the_whole_event_precheck_misses_no_secret(message: str) -> None:
    out, counts = _all().scrub_event(_log(message))
    assert sum(counts.values()) >= 1
    assert "[REDACTED:" in out["data"]["message"]
    for secret in (OPENAI, EMAIL, TRACEGRAPH, JWT, "9f8e7d6c5b4a3210"):
        assert secret not in out["data"]["message"]


def test_an_anchored_custom_rule_still_matches_inside_an_event() -> None:
    scrubber = make_policy([], {"ticket": r"^TCK-[0-9]{4}$"}).scrubber()
    out, counts = scrubber.scrub_event(_log("m", context={"ids": ["TCK-1234", "x TCK-9999"]}))
    assert out["data"]["context"]["ids"] == ["[REDACTED:ticket]", "x TCK-9999"]
    assert counts == {"ticket": 1}


def test_nothing_to_scrub_returns_the_event_unchanged() -> None:
    event = _log("fetched 18691 documents", context={"n": 3, "note": "ok\nfine"})
    out, counts = _all().scrub_event(event)
    assert out == event and not counts


@pytest.mark.parametrize(
    ("event_type", "data", "kept"),
    [
        ("run.started", {"triggered_by": EMAIL, "params": {"k": OPENAI}}, {}),
        ("run.failed", {"error": {"message": EMAIL, "stack": f"at\n{OPENAI}"}}, {}),
        ("run.cancelled", {"reason": EMAIL, "by": EMAIL}, {}),
        ("run.completed", {"outputs": {"to": [EMAIL]}}, {}),
        ("step.progress", {"message": f"mailing {EMAIL}", "percent": 5}, {"percent": 5}),
        ("step.skipped", {"reason": EMAIL}, {}),
        (
            "step.started",
            {"model": "m", "provider": "p", "params": {"h": f"Bearer {JWT}"}},
            {"model": "m", "provider": "p"},
        ),
        (
            "response.received",
            {"call": "c", "error": {"message": EMAIL}, "finish_reason": EMAIL},
            {"call": "c"},
        ),
        (
            "artifact.written",
            {"uri": "s3://b/k", "version": "1", "hash": "h", "schema": {"doc": EMAIL}},
            {"uri": "s3://b/k", "version": "1", "hash": "h"},
        ),
        (
            "pipeline.defined",
            {
                "description": EMAIL,
                "owner": "user:ana@example.com",
                "steps": [{"key": "a", "description": EMAIL, "owner": "user:bo@example.com"}],
            },
            {"owner": "user:ana@example.com"},
        ),
        (
            "prompt.sent",
            {
                "call": "c",
                "model": "m",
                "otel": {"span_id": "4111111111111111", "attributes": {"u": EMAIL}},
            },
            {"call": "c", "model": "m"},
        ),
    ],
)
def test_every_event_type_is_scrubbed_but_its_identifiers(
    event_type: str, data: dict[str, Any], kept: dict[str, Any]
) -> None:
    source = "sdk/python@worker-3.prod.internal"  # the emitter: kept, though it reads as an e-mail
    out, counts = _all().scrub_event(
        {"id": "e", "type": event_type, "source": source, "data": data}
    )
    text = orjson.dumps(out["data"]).decode()
    assert EMAIL not in text and OPENAI not in text and JWT not in text
    assert out["source"] == source and sum(counts.values()) >= 1
    assert {k: out["data"][k] for k in kept} == kept
    if event_type == "pipeline.defined":
        assert out["data"]["steps"][0]["owner"] == "user:bo@example.com"
        assert out["data"]["steps"][0]["key"] == "a"
    if event_type == "prompt.sent":  # OTLP span ids are the span tree: kept
        assert out["data"]["otel"]["span_id"] == "4111111111111111"


def test_prompt_text_is_hidden_with_a_marker() -> None:
    data = {"call": "c1", "model": "m", "text": "t", "variables": {"a": 1}}
    assert without_prompt_text("prompt.sent", data) == {
        "call": "c1",
        "model": "m",
        "hidden": ["text", "variables"],
    }
    assert without_prompt_text("response.chunk", {"call": "c", "index": 0, "delta": "x"}) == {
        "call": "c",
        "index": 0,
        "hidden": ["delta"],
    }
    assert without_prompt_text("log", {"message": "m"}) == {"message": "m"}
