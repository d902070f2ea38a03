"""A transient database failure (a deadlock the driver's retries did not get past, a
leader switch, an outage) is a retryable error for the client, not "Unexpected error."."""

from __future__ import annotations

from graphql import GraphQLError
from neo4j.exceptions import Neo4jError

from tracegraph.api.graphql.masking import masked


def _deadlock() -> Neo4jError:
    return Neo4jError._hydrate_neo4j(
        code="Neo.TransientError.Transaction.DeadlockDetected",
        message="ForsetiClient[transactionId=7] can't acquire ExclusiveLock{owner=...}",
    )


def test_a_deadlock_after_the_driver_retries_is_a_retryable_error() -> None:
    original = _deadlock()
    error = GraphQLError("x", path=["pauseRun"], original_error=original)
    out = masked(error, timeout_s=10, retry_after_s=2)
    assert out.extensions is not None
    assert out.extensions["code"] == "DATABASE_UNAVAILABLE"
    assert out.extensions["retryAfter"] == 2
    assert out.extensions["errorId"]
    assert "ForsetiClient" not in out.message and "retry" in out.message.lower()


def test_a_bug_stays_an_internal_error() -> None:
    error = GraphQLError("x", path=["runs"], original_error=RuntimeError("bug"))
    out = masked(error, timeout_s=10, retry_after_s=2)
    assert out.extensions is not None
    assert out.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert out.message == "Unexpected error."
