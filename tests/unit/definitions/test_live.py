"""The live definition: the stored data with the graph's owners and SLAs laid over it."""

from __future__ import annotations

from tracegraph.audit.definitions import Governance
from tracegraph.definitions.live import with_live_governance

STORED = {
    "version": "1",
    "owner": "team:a",
    "sla": {"max_tokens": 10},
    "steps": [
        {"key": "fetch", "owner": "team:a"},
        {"key": "embed", "sla": {"max_tokens": 5}},
    ],
}


def test_live_owners_and_slas_replace_the_defined_ones_and_removed_ones_go() -> None:
    live = with_live_governance(
        STORED,
        Governance(owner="team:b", sla=None),
        {
            "fetch": Governance(owner=None, sla={"max_duration_ms": 9}),
            "embed": Governance(owner="user:ana", sla={"max_tokens": 7}),
        },
    )
    assert live == {
        "version": "1",
        "owner": "team:b",
        "steps": [
            {"key": "fetch", "sla": {"max_duration_ms": 9}},
            {"key": "embed", "sla": {"max_tokens": 7}, "owner": "user:ana"},
        ],
    }
    assert STORED["owner"] == "team:a"  # the stored data is not changed
