"""GraphQL for the redaction policy: read it and change it (admins only).

A change is validated (every rule compiles with RE2), written to the event log as a
``redaction.policy_set`` event (so a replay of the log reproduces it) and applied as a
new version with its audit entry in the writer's transaction; it takes effect at once on
this replica, and the others pick it up within ``redaction_policy_refresh_s``.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, ingest_error, refused_change
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import DateTime
from tracegraph.auth import Permission
from tracegraph.ingest.admin_changes import ChangeRefused
from tracegraph.ingest.errors import IngestError
from tracegraph.redaction import (
    BUILTIN_NAMES,
    InvalidRedactionRule,
    RedactionPolicy,
    make_policy,
)


@strawberry.type
class RedactionRule:
    name: str
    pattern: str = strawberry.field(description="RE2 syntax (no look-around or backreferences).")


@strawberry.input
class RedactionRuleInput:
    name: str = strawberry.field(
        description="1-40 lowercase letters, digits and '_'; replaced text reads [REDACTED:<name>]."
    )
    pattern: str = strawberry.field(description="RE2 syntax (no look-around or backreferences).")


@strawberry.type(name="RedactionPolicy")
class RedactionPolicyType:
    builtins: list[str] = strawberry.field(description="Built-in rules in force, in order.")
    custom_rules: list[RedactionRule]
    available_builtins: list[str] = strawberry.field(
        description="Every built-in rule: api_key, bearer_token, email, credit_card."
    )
    version: int = strawberry.field(description="Grows by one with every change.")
    updated_at: DateTime | None
    updated_by: str | None

    @classmethod
    def of(cls, policy: RedactionPolicy) -> RedactionPolicyType:
        return cls(
            builtins=list(policy.builtins),
            custom_rules=[RedactionRule(name=n, pattern=p) for n, p in policy.custom_rules],
            available_builtins=list(BUILTIN_NAMES),
            version=policy.version,
            updated_at=policy.updated_at,
            updated_by=policy.updated_by,
        )


@strawberry.type
class PolicyQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.MANAGE_POLICY)],
        description="The redaction policy applied to every event's data at ingest.",
    )
    async def redaction_policy(self, info: Info[Context, None]) -> RedactionPolicyType:
        return RedactionPolicyType.of(info.context.services.redaction.policy)


@strawberry.type
class PolicyMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.MANAGE_POLICY)],
        description="Replace the redaction policy. Every rule is checked first (an invalid "
        "regex or unknown built-in is an error naming it); the change applies to the next "
        "event ingested and is recorded in the audit trail.",
    )
    async def set_redaction_policy(
        self, info: Info[Context, None], builtins: list[str], custom_rules: list[RedactionRuleInput]
    ) -> RedactionPolicyType:
        services = info.context.services
        try:
            policy = make_policy(builtins, [(r.name, r.pattern) for r in custom_rules])
        except InvalidRedactionRule as exc:
            raise BadArgument(str(exc)) from None
        try:
            stored = await services.admin_changes.set_policy(policy, info.context.actor)
        except ChangeRefused as exc:
            raise refused_change(exc) from exc
        except IngestError as exc:  # overloaded, or the database did not commit in time
            raise ingest_error(exc) from exc
        # Not only when newer than ours: the refresher converges on the stored version.
        services.redaction.apply(stored)
        return RedactionPolicyType.of(stored)


__all__ = ["PolicyMutation", "PolicyQuery", "RedactionPolicyType", "RedactionRuleInput"]
