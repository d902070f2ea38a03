"""SLA rules without a database: window parsing and the checks each SLA field makes."""

from __future__ import annotations

import pytest

from tracegraph.slas.rules import (
    Outcome,
    Sla,
    Subject,
    evaluate_subject,
    parse_window_ms,
    rate_window,
    success_rate_verdicts,
)


def test_windows_parse() -> None:
    assert parse_window_ms("P7D") == 7 * 86_400_000
    assert parse_window_ms("PT1H30M") == 5_400_000
    assert parse_window_ms("P1W") == 7 * 86_400_000
    assert parse_window_ms(None) == 86_400_000
    with pytest.raises(ValueError):
        parse_window_ms("P1M")


def test_rules_per_field() -> None:
    sla = Sla("s", max_duration_ms=1000, max_tokens=10, max_cost_usd=1.0, max_start_delay_ms=500)
    base = {"id": "r", "pipeline": "p", "scheduled_for": 0}
    running = Subject.from_props("Run", {**base, "status": "running", "started_at": 100})
    assert evaluate_subject(sla, running, now_ms=1000) == []
    [late_run] = evaluate_subject(sla, running, now_ms=1200)
    assert (late_run.kind, late_run.observed, late_run.id) == (
        "max_duration_ms",
        1100,
        "s|max_duration_ms|r",
    )
    waiting = Subject.from_props("Run", {**base, "status": "scheduled"})
    assert [f.kind for f in evaluate_subject(sla, waiting, now_ms=500)] == []
    assert [f.kind for f in evaluate_subject(sla, waiting, now_ms=501)] == ["max_start_delay_ms"]
    done = Subject.from_props(
        "Run",
        {
            **base,
            "status": "succeeded",
            "started_at": 600,
            "ended_at": 700,
            "tokens": 11,
            "cost_usd": 1.5,
        },
    )
    kinds = sorted(f.kind for f in evaluate_subject(sla, done, now_ms=10**9))
    assert kinds == ["max_cost_usd", "max_start_delay_ms", "max_tokens"]
    rated = Sla("s", min_success_rate=0.9, window="P1D")
    day = 86_400_000
    window = rate_window(rated, "p", None, ended_ms=day * 3 + 5)
    assert window is not None
    ok = [Outcome(day * 3 + i, "succeeded", f"ok{i}") for i in range(9)]
    assert success_rate_verdicts(window, ok, "Run")[0] == []
    failed = [*ok[:8], Outcome(day * 3 + 8, "failed", "r9"), Outcome(day * 3 + 9, "failed", "x")]
    [breach], clean = success_rate_verdicts(window, failed, "Run")
    assert (breach.observed, breach.subject, breach.at_ms) == (0.8, "x", day * 3 + 9)
    assert breach.id == "s|min_success_rate|1970-01-04T00:00:00Z"
    assert clean == ["s|min_success_rate|1970-01-05T00:00:00Z"]  # judged, nothing found


def kinds(found: list[dict]) -> list[tuple[str, str | None]]:
    return sorted((b["kind"], b["subject"]) for b in found)
