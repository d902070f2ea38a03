"""The `sla` object of pipeline and step definitions, and ISO 8601 window durations."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from tracegraph.events.base import Payload
from tracegraph.events.errors import problem
from tracegraph.events.fields import Amount, Count
from tracegraph.events.patterns import DURATION_PATTERN

_DURATION_PARTS = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def duration_to_timedelta(duration: str) -> timedelta:
    """An ISO 8601 duration (as validated by `Duration`) as a timedelta.

    Years and months have no fixed length; they count as 365 and 30 days, which is what a
    rolling SLA window means in practice.
    """
    match = _DURATION_PARTS.fullmatch(duration)
    if match is None:
        raise ValueError(f"{duration!r} is not an ISO 8601 duration")
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    days = parts.pop("years", 0) * 365 + parts.pop("months", 0) * 30 + parts.pop("days", 0)
    return timedelta(days=days, **parts)


def _positive(duration: str) -> str:
    if duration_to_timedelta(duration) <= timedelta(0):
        raise ValueError("must be longer than zero")
    return duration


Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, description="ISO 8601 duration, e.g. P1D, PT1H, P7D"),
    AfterValidator(_positive),
]


class Sla(Payload):
    """Service-level objectives of a pipeline or a step; every key is optional."""

    max_duration_ms: Count | None = None
    max_tokens: Count | None = None
    max_cost_usd: Amount | None = None
    min_success_rate: Annotated[Amount, Field(le=1)] | None = None
    window: Duration | None = Field(
        None, description="Window over which min_success_rate is measured"
    )
    max_start_delay_ms: Count | None = Field(
        None, description="How long after scheduled_for a run or step may start"
    )

    @model_validator(mode="after")
    def _rate_needs_window(self) -> Self:
        # A success rate means nothing without the period it is measured over.
        if self.min_success_rate is not None and self.window is None:
            raise problem("required when min_success_rate is set", "window")
        return self
