"""``me``: who the caller is and what they may do (the dashboard shows it)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context


@strawberry.type(description="The authenticated caller.")
class Principal:
    actor: str = strawberry.field(description="key:<name>, user:<subject> or system:<what>.")
    kind: str = strawberry.field(description="api_key, jwt or system.")
    roles: list[str]
    permissions: list[str]


@strawberry.type
class IdentityQuery:
    @strawberry.field(description="The caller: actor, roles and permissions.")
    def me(self, info: Info[Context, None]) -> Principal:
        # Only a WebSocket before connection_init has no principal: UNAUTHENTICATED.
        principal = info.context.signed_in
        return Principal(
            actor=principal.actor,
            kind=principal.kind,
            roles=principal.role_names,
            permissions=sorted(p.value for p in principal.permissions),
        )
