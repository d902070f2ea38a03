"""The dashboard's own queries fit the default GraphQL cost limit."""

from __future__ import annotations

from graphql import get_introspection_query

from tracegraph.api.graphql.hardening import DocumentLimits, estimate
from tracegraph.api.graphql.schema import build_schema
from tracegraph.settings import Settings


def test_the_dashboard_queries_fit_the_default_cost_limit() -> None:
    settings = Settings()
    schema = build_schema(settings)._schema
    limits = DocumentLimits.of(settings)
    run_light = """id status scheduledFor startedAt endedAt durationMs inputTokens outputTokens
      costUsd costEstimated error trigger pipeline { name }
      steps { id attempt status startedAt endedAt durationMs percent tokensUsed tokenBudget
        provider model error step { key } }"""
    pipelines = f"""query($after: String) {{ pipelines(first: 100, after: $after) {{
      edges {{ node {{ name version owner {{ id name kind }}
        sla {{ maxDurationMs maxTokens maxCostUsd minSuccessRate window maxStartDelayMs }}
        steps {{ id key name kind owner {{ id name }} dependsOn {{ key }} }}
        runs(first: 10) {{ {run_light} }} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
    measured = estimate(schema, pipelines, limits)
    assert 100_000 < measured.cost < limits.max_cost / 2
    assert estimate(schema, get_introspection_query(), limits).cost < limits.max_cost
