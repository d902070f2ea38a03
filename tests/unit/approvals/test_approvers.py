"""Who may decide an approval (issue 19): an approver entry ``owner`` matches the
pipeline's owner as the principal's identity, a role name a role of the principal; admins
always may; anyone else is refused with the approvers named."""

from __future__ import annotations

from typing import Any

from tracegraph.approvals import approver_problem
from tracegraph.auth import Principal, Role


def _approval(*approvers: str, owner: str | None = "user:ana") -> dict[str, Any]:
    return {"id": "a-1", "approvers": list(approvers), "owner": owner}


def _who(actor: str, *roles: Role) -> Principal:
    return Principal(actor=actor, roles=frozenset(roles), kind="jwt")


def test_the_owner_decides_by_identity_not_by_role() -> None:
    assert approver_problem(_approval("owner"), _who("user:ana", Role.VIEWER)) is None
    problem = approver_problem(_approval("owner"), _who("user:bo", Role.OPERATOR))
    assert problem == (
        "user:bo may not decide approval 'a-1': its approvers are owner (user:ana) (or an admin)"
    )


def test_a_role_name_matches_any_principal_with_that_role() -> None:
    both = _approval("owner", "reviewer")
    assert approver_problem(both, _who("key:rev", Role.REVIEWER)) is None
    assert approver_problem(both, _who("key:op", Role.OPERATOR)) is not None


def test_admins_always_decide_and_an_ownerless_pipeline_says_so() -> None:
    assert approver_problem(_approval("owner", owner=None), _who("key:root", Role.ADMIN)) is None
    problem = approver_problem(_approval("owner", owner=None), _who("user:ana", Role.OPERATOR))
    assert problem is not None and "owner (the pipeline has none)" in problem
