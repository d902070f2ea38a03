"""Per-field authorization (api/graphql/permissions.py) in a real strawberry schema:
a denied field is an error naming the permission (code FORBIDDEN); a hidden one is
``null`` without an error; a caller with no principal gets neither."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from tracegraph.api.graphql.permissions import allow, hidden_unless
from tracegraph.auth import Permission, Principal, Role


@strawberry.type
class Call:
    model: str = "gpt-4o"
    prompt: str | None = strawberry.field(
        default="the prompt", extensions=[hidden_unless(Permission.READ_PROMPTS)]
    )


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[allow(Permission.READ)])
    def call(self) -> Call:
        return Call()

    @strawberry.field(permission_classes=[allow(Permission.MANAGE_KEYS)])
    def keys(self) -> list[str]:
        return ["k1"]


SCHEMA = strawberry.Schema(query=Query)


@dataclass
class Context:
    principal: Principal | None


def run(query: str, *roles: Role, signed_in: bool = True) -> Any:
    principal = Principal("key:t", frozenset(roles), "api_key") if signed_in else None
    return SCHEMA.execute_sync(query, context_value=Context(principal))


def test_a_reviewer_reads_the_prompt_text() -> None:
    result = run("{ call { model prompt } }", Role.REVIEWER)
    assert result.errors is None
    assert result.data == {"call": {"model": "gpt-4o", "prompt": "the prompt"}}


def test_a_viewer_gets_null_for_the_prompt_and_no_error() -> None:
    result = run("{ call { model prompt } }", Role.VIEWER)
    assert result.errors is None
    assert result.data == {"call": {"model": "gpt-4o", "prompt": None}}


def test_a_denied_field_is_an_error_naming_the_permission() -> None:
    result = run("{ keys }", Role.REVIEWER)
    assert result.data is None
    [error] = result.errors
    assert error.message == "forbidden: this needs the 'admin:keys' permission"
    assert error.extensions == {"code": "FORBIDDEN", "permission": "admin:keys"}
    assert run("{ keys }", Role.ADMIN).data == {"keys": ["k1"]}


def test_no_principal_may_do_nothing() -> None:
    result = run("{ call { model } }", signed_in=False)
    assert result.data is None
    assert result.errors[0].extensions["code"] == "FORBIDDEN"


def test_one_permission_class_per_permission() -> None:
    # Cached: strawberry registers each class once, and they differ per permission.
    assert allow(Permission.READ) is allow(Permission.READ)
    assert allow(Permission.READ) is not allow(Permission.INGEST)
    assert allow(Permission.INGEST).__name__ == "Allow_INGEST"
