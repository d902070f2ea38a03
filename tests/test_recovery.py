"""Recovery after an outage: what stands between Neo4j answering again and the first
commit, as far as the service decides it (no timings: the schedule itself)."""

from __future__ import annotations

from itertools import islice

from tracegraph.runtime import schema_retry_delays
from tracegraph.settings import Settings


def test_a_service_started_during_an_outage_retries_the_schema_at_least_every_2_s() -> None:
    # Doubling without a low cap waited up to 10 s after Neo4j came back, the whole
    # recovery budget; the cap is a setting, 2 s by default.
    cap = Settings().schema_retry_max_delay_s
    delays = list(islice(schema_retry_delays(cap), 12))
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert max(delays) == cap == 2.0
    assert list(islice(schema_retry_delays(0.2), 3)) == [0.2, 0.2, 0.2]
