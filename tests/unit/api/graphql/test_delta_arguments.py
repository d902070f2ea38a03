"""Delta subscription arguments are checked per subscriber (issue 17, finding 4): a bad
key is that subscriber's BAD_USER_INPUT, before it can reach an initial read shared with
other subscribers."""

from __future__ import annotations

from typing import Any

import pytest

from tracegraph.api.graphql.deltas import delta_scope
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.live.deltas import DeltaScope

MAX_KNOWN = 1000  # api/graphql/deltas.py: as many as a whole-kind scope holds


@pytest.mark.parametrize(
    ("field", "args", "message"),
    [
        ("runChanged", {"run": ""}, "'run:' is not an entity key"),
        ("pipelineChanged", {"names": ["ok", ""]}, "'pipeline:' is not an entity key"),
        ("pipelineChanged", {"names": [str(i) for i in range(201)]}, "at most 200 names"),
        (
            "pipelineChanged",
            {"known": [{"entity": "pipeline:", "version": 1}]},
            "'pipeline:' is not an entity key",
        ),
        ("breachChanged", {"known": [{"entity": "nope:1", "version": 1}]}, "'nope:1'"),
        (
            "breachChanged",
            {"known": [{"entity": f"breach:{i}", "version": 1} for i in range(MAX_KNOWN + 1)]},
            f"at most {MAX_KNOWN} known versions",
        ),
    ],
)
def test_bad_keys_are_bad_user_input(field: str, args: dict[str, Any], message: str) -> None:
    with pytest.raises(BadArgument) as err:
        delta_scope(field, args)
    assert message in str(err.value)
    assert err.value.code == "BAD_USER_INPUT"


def test_good_arguments_give_the_scope_and_known_versions() -> None:
    known = [{"entity": f"pipeline:p{i}", "version": i} for i in range(MAX_KNOWN)]
    scope, versions = delta_scope("pipelineChanged", {"names": None, "known": known})
    assert scope == DeltaScope("pipeline", None)
    assert len(versions) == MAX_KNOWN
    scope, versions = delta_scope("runChanged", {"run": "r1", "afterVersion": 4})
    assert (scope, versions) == (DeltaScope("run", frozenset(["r1"])), {"run:r1": 4})
