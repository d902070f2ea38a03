"""The rollups' arithmetic without a database: contributions, differences, sketches."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import orjson
import pytest

from tracegraph.store.metrics_reads import _group_key, merged_ranges, rollup_ranges
from tracegraph.store.rollups import (
    RELATIVE_ACCURACY,
    Bin,
    bin_code,
    call_contribution,
    code_bin,
    encode,
    plan_update,
    quantile,
    sketch_bin,
)

HOUR = 3_600_000


def _call(**figures: Any) -> dict[str, Any]:
    row = {
        "eid": "4:c:1", "rollup": None, "pipeline": "p", "step": "s", "provider": "openai",
        "model": "gpt-4o", "template": "t", "template_version": "1", "t": 90_061_000,
        "error": False, "latency": 612, "input_tokens": 61, "output_tokens": 2,
        "cost": 0.000213, "estimated": False,
    }  # fmt: skip
    row.update(figures)
    return row


def _record(**labels: list[dict[str, Any]]) -> dict[str, Any]:
    return {"calls": [], "step_runs": [], "runs": [], "events": [], **labels}


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@pytest.mark.parametrize("q", [0.0, 0.5, 0.95, 0.99, 1.0])
def test_quantiles_are_within_the_relative_accuracy_of_percentile_disc(q: float) -> None:
    rng = random.Random(q)
    values = [rng.lognormvariate(6, 1.5) for _ in range(5000)] + [0.0] * 40 + [-3.5] * 10
    bins: Counter[Bin] = Counter(sketch_bin(v) for v in values)
    got, exact = quantile(bins, q), _exact(values, q)
    assert got is not None
    assert abs(got - exact) <= RELATIVE_ACCURACY * abs(exact) + 1e-12


def test_an_empty_sketch_has_no_quantile() -> None:
    assert quantile(Counter(), 0.5) is None
    assert quantile(Counter({(1, 10): 0}), 0.5) is None


def test_a_new_call_adds_itself_to_its_minute_and_hour() -> None:
    delta, changed = plan_update(_record(calls=[_call()]))
    rows = delta.bucket_rows()
    assert sorted((r["level"], r["t"]) for r in rows) == [("h", 90_000_000), ("m", 90_060_000)]
    for r in rows:
        assert (r["n"], r["input_tokens"], r["output_tokens"]) == (1, 61, 2)
        assert r["cost_nano"] == 213_000 and r["estimated_cost_nano"] == 0
    # One sketch bin per level: the call's latency, as the library keys it.
    assert [r["bins"] for r in rows] == [[[bin_code(sketch_bin(612)), 1]]] * 2
    assert changed["calls"] == [{"eid": "4:c:1", "rollup": encode(call_contribution(_call()))}]


def test_an_unchanged_call_moves_nothing() -> None:
    recorded = encode(call_contribution(_call()))
    delta, changed = plan_update(_record(calls=[_call(rollup=recorded)]))
    assert delta.bucket_rows() == [] and changed["calls"] == []


def test_a_changed_call_moves_by_the_difference_even_across_buckets() -> None:
    recorded = encode(call_contribution(_call()))
    # A late prompt changed its tokens and estimated cost; its answer time moved an hour.
    late = _call(rollup=recorded, input_tokens=100, cost=0.0005, estimated=True, t=93_661_000)
    delta, _ = plan_update(_record(calls=[late]))
    by_start = {(r["level"], r["t"]): r for r in delta.bucket_rows()}
    assert by_start[("h", 90_000_000)]["n"] == -1
    assert by_start[("h", 90_000_000)]["input_tokens"] == -61
    assert by_start[("h", 93_600_000)]["n"] == 1
    assert by_start[("h", 93_600_000)]["estimated_cost_nano"] == 500_000


def test_an_unanswered_call_counts_nothing() -> None:
    delta, changed = plan_update(_record(calls=[_call(t=None)]))
    assert delta.bucket_rows() == [] and changed["calls"] == []


def test_a_run_finishing_moves_from_running_to_succeeded() -> None:
    running = {"eid": "4:r:1", "pipeline": "p", "t": 0, "status": "running", "duration": None}
    _, changed = plan_update(_record(runs=[{**running, "rollup": None}]))
    recorded = changed["runs"][0]["rollup"]
    assert orjson.loads(recorded)["f"][0] == 1
    done = {**running, "rollup": recorded, "status": "succeeded", "duration": 5000}
    delta, _ = plan_update(_record(runs=[done]))
    for r in delta.bucket_rows():
        assert (r["n"], r["succeeded"]) == (0, 1)
        assert r["bins"] == [[bin_code(sketch_bin(5000)), 1]]


def test_ranges_cut_buckets_into_whole_hours_and_the_minutes_around_them() -> None:
    start = 10 * HOUR + 30 * 60_000
    ranges = rollup_ranges(start, start + 2 * HOUR, 2 * HOUR)
    assert [(r["level"], r["from"], r["to"]) for r in ranges] == [
        ("m", start, 11 * HOUR),
        ("h", 11 * HOUR, 12 * HOUR),
        ("m", 12 * HOUR, start + 2 * HOUR),
    ]
    assert [r["level"] for r in rollup_ranges(0, HOUR, 60_000)] == ["m"] * 60
    assert rollup_ranges(0, 3 * HOUR, HOUR)[2] == {"level": "h", "from": 2 * HOUR,
                                                   "to": 3 * HOUR, "bucket": 2}  # fmt: skip


def test_breakdown_keys_are_the_exact_statements_keys() -> None:
    dims = ("p", None, "openai", "gpt-4o")
    assert _group_key("PIPELINE", dims) == "p"
    assert _group_key("STEP", dims) == "p/-"
    assert _group_key("PROVIDER", dims) == "openai"
    assert _group_key("MODEL", dims) == "openai/gpt-4o"
    assert _group_key("MODEL", ("p", "s", None, "m")) is None


def test_bin_codes_round_trip_and_order_values_within_a_sign() -> None:
    values = [0.0, 1e-6, 0.5, 1, 2, 612, 1e6, -0.5, -3, -1e6]
    for v in values:
        assert code_bin(bin_code(sketch_bin(v))) == sketch_bin(v)
    positive = sorted((v for v in values if v > 0), key=lambda v: bin_code(sketch_bin(v)))
    assert positive == sorted(v for v in values if v > 0)


def test_a_latency_change_inside_one_bucket_moves_only_its_bins() -> None:
    recorded = encode(call_contribution(_call()))
    delta, _ = plan_update(_record(calls=[_call(rollup=recorded, latency=900)]))
    for r in delta.bucket_rows():
        assert r["n"] == 0 and r["input_tokens"] == 0
        assert r["bins"] == sorted(
            [[bin_code(sketch_bin(612)), -1], [bin_code(sketch_bin(900)), 1]]
        )


def test_cost_rounds_half_up_to_nano_usd_as_the_rebuild_does() -> None:
    assert call_contribution(_call(cost=2.5e-9))["f"][8] == math.floor(2.5e-9 * 1e9 + 0.5)
    assert call_contribution(_call(cost=None))["f"][8] == 0


def test_hourly_buckets_read_as_one_range_per_level() -> None:
    ranges = merged_ranges(rollup_ranges(0, 168 * HOUR, HOUR))
    assert ranges == [{"level": "h", "from": 0, "to": 168 * HOUR}]
    start = 30 * 60_000
    ranges = merged_ranges(rollup_ranges(start, start + 3 * HOUR, HOUR))
    # Every bucket straddles an hour: minutes only, one run.
    assert ranges == [{"level": "m", "from": start, "to": start + 3 * HOUR}]
    ranges = merged_ranges(rollup_ranges(start, start + 4 * HOUR, 2 * HOUR))
    assert [r["level"] for r in ranges] == ["m", "h", "m", "h", "m"]
