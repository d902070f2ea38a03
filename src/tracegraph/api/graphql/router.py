"""Mounting the schema on FastAPI at ``/graphql`` (POST, GraphiQL on GET, WebSockets)."""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from tracegraph.api.authentication import credential_of
from tracegraph.api.graphql.context import Context, get_context
from tracegraph.api.graphql.http_body import BadBody, check_post_headers, decode_json_body
from tracegraph.api.graphql.live_ws import LiveGraphQLRouter
from tracegraph.api.graphql.schema import build_schema
from tracegraph.api.graphql.ws_outage import (
    OutageTransportWSHandler,
    OutageWSHandler,
    TryAgainLater,
)
from tracegraph.api.rate_limit import rate_limits_of
from tracegraph.auth.errors import AuthenticationError, CredentialsUnavailable
from tracegraph.settings import Settings


def connection_credential(params: Any) -> str | None:
    """The credential in a ``connection_init`` payload: ``{"Authorization": "Bearer …"}``
    (as browsers' graphql-ws clients send it), or ``{"apiKey": …}`` / ``{"token": …}``."""
    if not isinstance(params, dict):
        return None
    headers = {k.lower(): v for k, v in params.items() if isinstance(v, str)}
    nested = params.get("headers")
    if isinstance(nested, dict):
        headers.update({k.lower(): v for k, v in nested.items() if isinstance(v, str)})
    return credential_of(headers) or headers.get("apikey") or headers.get("token")


class AuthenticatedGraphQLRouter(LiveGraphQLRouter):
    """WebSockets authenticate in ``connection_init``; a refusal closes with 4403, a
    credential that cannot be checked now (database down) with 1013 (ws_outage). The
    session then follows the credential's current state (``ws_auth``)."""

    graphql_transport_ws_handler_class = OutageTransportWSHandler
    graphql_ws_handler_class = OutageWSHandler

    async def on_ws_connect(self, context: Context) -> dict[str, Any]:
        credential = connection_credential(context.connection_params)
        try:
            principal = await context.services.authenticator.authenticate(credential)
        except AuthenticationError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from None
        except CredentialsUnavailable as exc:
            retry_after = context.services.settings.retry_after_s
            raise TryAgainLater(str(exc), retry_after) from None
        # Over the per-principal cap this raises SessionRefused (the handler closes 1013).
        if context.ws_session is not None:
            context.services.ws_sessions.sign_in(context.ws_session, principal)
        context.principal = principal
        # Kept to re-authenticate every later operation on this socket.
        context.credential = credential
        return {"actor": principal.actor, "roles": principal.role_names}

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except BadBody:
            # A refused body is a request too (others are counted by RateLimitOperations):
            # over the caller's limit, the answer is 429 + Retry-After instead.
            principal = getattr(context, "principal", None)
            if principal is not None:
                rate_limits_of(request.app).hit("read", principal)
            raise

    # Bad bodies: a precise 400/415 instead of strawberry's 500 (tracegraph.api.graphql.http_body).
    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        if request.method == "POST":
            check_post_headers(request.headers, request.content_type)
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json_body(data)


def graphql_router(settings: Settings) -> GraphQLRouter:
    # Live subscriptions render once per distinct subscription (tracegraph.api.graphql.live_ws);
    # keep_alive sends graphql-ws "ka" frames (graphql-transport-ws uses ping/pong).
    return AuthenticatedGraphQLRouter(
        build_schema(settings),
        keep_alive=True,
        keep_alive_interval=15,
        path="/graphql",
        # GraphiQL, like introspection, only in development.
        graphql_ide="graphiql" if settings.mode == "development" else None,
        context_getter=get_context,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL],
        # Cross-site WebSocket hijacking guard: besides the service's own origin and
        # non-browser clients (no Origin), only these origins may open a socket.
        allowed_origins=settings.allowed_origins,
    )
