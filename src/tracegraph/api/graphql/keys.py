"""API keys over GraphQL (admins): list, create (the key text is answered once), revoke."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.permissions import allow
from tracegraph.auth import Permission
from tracegraph.auth.roles import parse_role
from tracegraph.auth.scopes import InvalidScope, parse_scope
from tracegraph.store.key_store import ApiKeyRecord, KeyNameTaken, UnknownKey

MANAGE_KEYS = [allow(Permission.MANAGE_KEYS)]


@strawberry.type(description="An API key's record; its secret is never stored or shown again.")
class ApiKey:
    id: strawberry.ID
    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    last_used_at: str | None
    scopes: list[str] | None = strawberry.field(
        description="The pipeline name patterns (globs, e.g. rag-*) this key may write "
        "events for; null: any pipeline. Events outside them are refused and quarantined."
    )

    @classmethod
    def of(cls, r: ApiKeyRecord) -> ApiKey:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            role=r.role,
            created_at=r.created_at,
            created_by=r.created_by,
            revoked_at=r.revoked_at,
            revoked_by=r.revoked_by,
            last_used_at=r.last_used_at,
            scopes=r.scopes,
        )


@strawberry.type
class CreatedApiKey:
    key: str = strawberry.field(description="The key text: shown in this answer only.")
    record: ApiKey


@strawberry.type
class KeysQuery:
    @strawberry.field(permission_classes=MANAGE_KEYS, description="API keys, oldest first.")
    async def api_keys(
        self, info: Info[Context, None], include_revoked: bool = False
    ) -> list[ApiKey]:
        records = await info.context.services.keys.list(include_revoked=include_revoked)
        return [ApiKey.of(r) for r in records]


@strawberry.type
class KeysMutation:
    @strawberry.mutation(
        permission_classes=MANAGE_KEYS,
        description="Create an API key; `scopes` (glob patterns such as rag-*) limits the "
        "pipelines it may write events for (omitted or null: any).",
    )
    async def create_api_key(
        self, info: Info[Context, None], name: str, role: str, scopes: list[str] | None = None
    ) -> CreatedApiKey:
        try:
            record, text = await info.context.services.keys.create(
                name, parse_role(role), info.context.actor, parse_scope(scopes)
            )
        except (KeyNameTaken, InvalidScope, ValueError) as exc:
            raise BadArgument(str(exc)) from None
        return CreatedApiKey(key=text, record=ApiKey.of(record))

    @strawberry.mutation(
        permission_classes=MANAGE_KEYS,
        description="Revoke an API key (the first revocation stands); refused from then on.",
    )
    async def revoke_api_key(self, info: Info[Context, None], id: strawberry.ID) -> ApiKey:
        services = info.context.services
        try:
            record = await services.keys.revoke(str(id), info.context.actor)
        except UnknownKey as exc:
            raise BadArgument(str(exc)) from None
        services.authenticator.forget(record.id)
        return ApiKey.of(record)
