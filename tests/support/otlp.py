"""Hand-written OTLP/JSON exports (hex ids, int64 as strings), for the adapter's unit
and HTTP tests alike."""

from __future__ import annotations

from typing import Any


def hex_span(
    span_id: str,
    name: str,
    parent: str = "",
    attrs: dict[str, Any] | None = None,
    *,
    start: int = 0,
    end: int = 1,
    error: str | None = None,
) -> dict[str, Any]:
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}  # int64 as a string, as OTLP/JSON encoders write it
        return {"stringValue": v}

    span: dict[str, Any] = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(1_763_604_000_000_000_000 + start * 1_000_000_000),
        "endTimeUnixNano": str(1_763_604_000_000_000_000 + end * 1_000_000_000),
        "attributes": [{"key": k, "value": value(v)} for k, v in (attrs or {}).items()],
    }
    if error:
        span["status"] = {"code": 2, "message": error}
    return span


def json_export(*spans: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                },
                "scopeSpans": [{"scope": {"name": "hand"}, "spans": list(spans)}],
            }
        ]
    }
