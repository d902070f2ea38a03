"""The GraphQL schema, assembled from the domain modules (each holds its own fields):
``core`` (pipelines, runs, lineage, impact, events, ingestEvents), ``metrics_types``,
``alerts``, ``identity``, ``policy``, ``keys``, ``audit``, the live ``subscriptions`` and
``deltas``."""

from __future__ import annotations

import strawberry

from tracegraph.api.graphql.alerts import AlertsMutation, AlertsQuery, AlertsSubscription
from tracegraph.api.graphql.approvals import ApprovalsMutation, ApprovalsQuery
from tracegraph.api.graphql.audit import AuditMutation, AuditQuery
from tracegraph.api.graphql.columns import ColumnsQuery
from tracegraph.api.graphql.commands import (
    CommandsMutation,
    CommandsQuery,
    CommandsSubscription,
)
from tracegraph.api.graphql.core import CoreQuery, IngestMutation
from tracegraph.api.graphql.definitions import DefinitionsMutation, DefinitionsQuery
from tracegraph.api.graphql.deltas import DeltasQuery, DeltasSubscription
from tracegraph.api.graphql.gate import GateMutation, GateQuery, GateSubscription
from tracegraph.api.graphql.hardening import HardenedSchema
from tracegraph.api.graphql.identity import IdentityQuery
from tracegraph.api.graphql.keys import KeysMutation, KeysQuery
from tracegraph.api.graphql.metrics_types import MetricsQuery
from tracegraph.api.graphql.policy import PolicyMutation, PolicyQuery
from tracegraph.api.graphql.quarantine import QuarantineMutation, QuarantineQuery
from tracegraph.api.graphql.retention import RetentionMutation
from tracegraph.api.graphql.subscriptions import Subscription as LiveSubscription
from tracegraph.settings import Settings


# The bases' order is the order of the fields in the SDL (schema/schema.graphql).
@strawberry.type
class Query(
    DeltasQuery,
    MetricsQuery,
    AlertsQuery,
    IdentityQuery,
    PolicyQuery,
    KeysQuery,
    AuditQuery,
    CoreQuery,
    ColumnsQuery,
    CommandsQuery,
    DefinitionsQuery,
    QuarantineQuery,
    ApprovalsQuery,
    GateQuery,
):
    pass


@strawberry.type
class Mutation(
    AlertsMutation,
    PolicyMutation,
    KeysMutation,
    AuditMutation,
    IngestMutation,
    CommandsMutation,
    DefinitionsMutation,
    QuarantineMutation,
    ApprovalsMutation,
    GateMutation,
    RetentionMutation,
):
    pass


@strawberry.type
class Subscription(
    DeltasSubscription,
    LiveSubscription,
    AlertsSubscription,
    CommandsSubscription,
    GateSubscription,
):
    """Entity deltas (tracegraph.api.graphql.deltas), live events and run states
    (tracegraph.api.graphql.subscriptions), alerts, and executors' commands."""


def build_schema(settings: Settings) -> HardenedSchema:
    """The schema with the document limits, masking and rate limits of ``settings``
    (tracegraph.api.graphql.hardening)."""
    return HardenedSchema(settings, query=Query, mutation=Mutation, subscription=Subscription)
