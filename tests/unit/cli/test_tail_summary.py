"""`tracegraph tail` summarises admin changes (issue 19) like other events."""

from __future__ import annotations

from datetime import UTC, datetime

from tracegraph.cli.tail_command import summary
from tracegraph.events.governance import owner_set_event, policy_set_event, sla_set_event

AT = datetime(2026, 11, 20, tzinfo=UTC)


def test_admin_changes_are_summarised() -> None:
    assert summary(owner_set_event("p", "s", "team:x", AT)) == "owner team:x"
    assert summary(sla_set_event("p", None, {"max_tokens": 10}, AT)) == "sla max_tokens=10"
    assert summary(sla_set_event("p", None, None, AT)) == "sla removed"
    policy = policy_set_event(["email"], [("ticket", "TCK-[0-9]+")], AT)
    assert summary(policy) == "redaction email, ticket"
