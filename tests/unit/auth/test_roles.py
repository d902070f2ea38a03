"""The role table (auth/roles.py) and what a principal holding roles may do."""

from __future__ import annotations

import pytest

from tracegraph.auth import ROLE_PERMISSIONS, SYSTEM, Permission, Principal, Role
from tracegraph.auth.roles import parse_role

READS = {Permission.READ}
REVIEWS = READS | {
    Permission.READ_PROMPTS,
    Permission.READ_AUDIT,
    Permission.QUARANTINE,
    Permission.ACK_BREACHES,
    Permission.REVIEW_CHANGES,
}


def who(*roles: Role) -> Principal:
    return Principal(actor="key:t", roles=frozenset(roles), kind="api_key")


@pytest.mark.parametrize(
    ("role", "granted"),
    [
        (Role.VIEWER, READS),
        (Role.REVIEWER, REVIEWS),
        (Role.INGESTER, {Permission.INGEST}),
        (Role.ADMIN, set(Permission)),
        (Role.OPERATOR, READS | {Permission.OPERATE}),
        (Role.EXECUTOR, {Permission.INGEST, Permission.EXECUTE}),
    ],
)
def test_each_role_grants_exactly_its_row_of_the_table(role: Role, granted: set) -> None:
    assert ROLE_PERMISSIONS[role] == granted
    principal = who(role)
    for permission in Permission:
        assert principal.can(permission) is (permission in granted), permission


def test_an_ingester_reads_nothing_and_a_viewer_writes_nothing() -> None:
    assert not who(Role.INGESTER).can(Permission.READ)
    assert not who(Role.VIEWER).can(Permission.INGEST)
    assert not who(Role.VIEWER).can(Permission.READ_PROMPTS)  # prompt text is hidden


def test_roles_add_up() -> None:
    both = who(Role.VIEWER, Role.INGESTER)
    assert both.permissions == READS | {Permission.INGEST}
    assert both.role_names == ["ingester", "viewer"]
    assert who().permissions == frozenset()  # no role, no permission


def test_the_system_principal_is_an_admin() -> None:
    assert SYSTEM.permissions == frozenset(Permission)


@pytest.mark.parametrize("text", ["viewer", " Reviewer ", "ADMIN", "ingester"])
def test_parse_role_accepts_any_case_and_spacing(text: str) -> None:
    assert parse_role(text).value == text.strip().lower()


def test_parse_role_names_the_valid_roles() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown role 'owner'; valid roles are viewer, "
        r"reviewer, ingester, admin",
    ):
        parse_role("owner")
