"""Rate-limit settings: a bad limit is refused naming the setting."""

from __future__ import annotations

import pytest

from tracegraph.api.rate_limit import RateLimits, rate_limited
from tracegraph.settings import Settings


def test_bad_limits_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="TRACEGRAPH_RATE_LIMIT='lots' is not a rate limit"):
        RateLimits(Settings(rate_limit="lots"))
    with pytest.raises(ValueError, match="unknown rate-limit bucket 'write'"):
        rate_limited("write")  # type: ignore[arg-type]
