"""Mounting the schema on FastAPI at ``/graphql`` (POST, GraphiQL on GET, WebSockets)."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from tracegraph.api.graphql.context import get_context
from tracegraph.api.graphql.schema import schema
from tracegraph.api.live_ws import LiveGraphQLRouter


def graphql_router() -> GraphQLRouter:
    # Live subscriptions render once per distinct subscription (tracegraph.api.live_ws);
    # keep_alive sends graphql-ws "ka" frames (graphql-transport-ws uses ping/pong).
    return LiveGraphQLRouter(
        schema,
        keep_alive=True,
        keep_alive_interval=15,
        path="/graphql",
        graphql_ide="graphiql",
        context_getter=get_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
    )
