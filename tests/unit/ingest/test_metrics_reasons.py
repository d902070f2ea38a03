"""Rejection reasons fold into a few Prometheus label values."""

from __future__ import annotations

from tracegraph.ingest.metrics import reason_class


def test_reason_classes() -> None:
    assert reason_class("conflict: event id 'x' was already accepted") == "conflict"
    assert reason_class("event must be a JSON object") == "not_an_object"
    assert reason_class("type: unknown event type 'x' (known: …)") == "type"
    assert reason_class("time: required") == "missing_field"
    assert reason_class("data.percent: must be <= 100") == "invalid_field"
