"""A batch's rollup differences without a database: events counted from the batch's own
rows, and buckets that carry only their kind's figures."""

from __future__ import annotations

from datetime import UTC, datetime

from tracegraph.store.rollups import (
    FIELDS,
    KIND_FIELDS,
    RollupDelta,
    Touched,
    call_contribution,
    epoch_ms,
    plan_update,
    run_contribution,
)

MINUTE = 60_000
HOUR = 3_600_000


def test_epoch_ms_floors_like_cypher_epoch_millis() -> None:
    text = "2026-11-20T02:00:01.999999Z"
    expected = int(datetime(2026, 11, 20, 2, 0, 1, tzinfo=UTC).timestamp()) * 1000 + 999
    assert epoch_ms(text) == expected
    assert epoch_ms("1970-01-01T00:00:00.000000Z") == 0


def test_new_events_are_counted_per_pipeline_step_and_minute() -> None:
    base = "2026-11-20T02:00:"
    rows = [
        {"pipeline": "p", "step": "s", "time": base + "01.000000Z"},
        {"pipeline": "p", "step": "s", "time": base + "59.999000Z"},
        {"pipeline": "p", "step": None, "time": base + "30.000000Z"},
        {"pipeline": "p", "step": "s", "time": "2026-11-20T02:01:00.000000Z"},
    ]
    delta = RollupDelta()
    delta.add_events(Touched(new_events=rows).new_event_rows())
    minute0 = epoch_ms(base + "00.000000Z")
    by_key = {(r["level"], r["t"], r["step"]): r["n"] for r in delta.bucket_rows()}
    assert by_key == {
        ("m", minute0, "s"): 2,
        ("m", minute0 + MINUTE, "s"): 1,
        ("m", minute0, None): 1,
        ("h", minute0 - minute0 % HOUR, "s"): 3,
        ("h", minute0 - minute0 % HOUR, None): 1,
    }


def test_events_summed_at_once_equal_events_added_one_by_one() -> None:
    rows = [{"pipeline": "p", "step": f"s{i % 3}", "t": 1_000 * i * 7} for i in range(500)]
    together = RollupDelta()
    together.add_events(rows)
    apart = RollupDelta()
    for row in rows:
        apart.add_events([row])
    assert together.bucket_rows() == apart.bucket_rows()
    assert sum(r["n"] for r in together.bucket_rows() if r["level"] == "h") == 500


def test_events_read_from_the_graph_are_counted_like_new_ones() -> None:
    record = {"calls": [], "step_runs": [], "runs": [],
              "events": [{"pipeline": "p", "step": "s", "t": 61_000},
                         {"pipeline": "p", "step": "s", "t": None}]}  # fmt: skip
    delta, _ = plan_update(record)
    assert sorted((r["level"], r["t"], r["n"]) for r in delta.bucket_rows()) == [
        ("h", 0, 1),
        ("m", 60_000, 1),
    ]


def test_a_bucket_row_carries_only_its_kinds_figures() -> None:
    delta = RollupDelta()
    call = {
        "eid": "4:c:1", "rollup": None, "pipeline": "p", "step": "s", "provider": "openai",
        "model": "m", "template": None, "template_version": None, "t": 0, "error": True,
        "latency": 10, "input_tokens": 5, "output_tokens": 1, "cost": 0.1, "estimated": False,
    }  # fmt: skip
    run = {"eid": "4:r:1", "rollup": None, "pipeline": "p", "t": 0, "status": "cancelled",
           "duration": 10}  # fmt: skip
    for contribution in (call_contribution(call), run_contribution(run)):
        assert contribution is not None
        delta.add(contribution, +1)
    delta.add_events([{"pipeline": "p", "step": None, "t": 0}])
    rows = delta.bucket_rows()
    assert {r["kind"] for r in rows} == {"call", "run", "event"}
    for r in rows:
        figures = {name for name in FIELDS if name in r}
        assert figures == set(KIND_FIELDS[r["kind"]])
    call_row = next(r for r in rows if r["kind"] == "call")
    assert (call_row["errors"], call_row["input_tokens"]) == (1, 5)
    assert next(r for r in rows if r["kind"] == "run")["cancelled"] == 1
