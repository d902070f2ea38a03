"""Roles and the permissions each grants (the issue's role table, in one place)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # status, lineage, impact, metrics; prompt/response text hidden
    REVIEWER = "reviewer"  # viewer + prompt/response text, audit trail, quarantine
    INGESTER = "ingester"  # write events only
    ADMIN = "admin"  # everything, including keys, owners, SLAs and the redaction policy
    OPERATOR = "operator"  # viewer + act on pipelines: pause, resume, cancel, retry, start
    EXECUTOR = "executor"  # ingester + receive and settle commands (SDK executors)


class Permission(StrEnum):
    READ = "read"  # status, runs, lineage, impact, metrics, events, breaches
    READ_PROMPTS = "read:prompts"  # prompt and response text
    READ_AUDIT = "read:audit"  # the audit trail and who ingested what
    QUARANTINE = "quarantine"  # list and resolve quarantined events
    ACK_BREACHES = "breaches:ack"  # acknowledge / resolve SLA breaches
    INGEST = "ingest"  # write events (HTTP, GraphQL mutation, adapters)
    MANAGE_KEYS = "admin:keys"
    MANAGE_OWNERS = "admin:owners"
    MANAGE_SLAS = "admin:slas"
    MANAGE_POLICY = "admin:policy"  # the redaction policy
    OPERATE = "operate"  # issue commands to pipelines and runs (issue 18)
    EXECUTE = "commands:execute"  # receive, acknowledge and settle commands
    # Approve or reject gated changes (four-eyes: never one's own; docs/governance.md).
    REVIEW_CHANGES = "changes:review"
    # Erase a person's text everywhere, archives included (docs/retention.md).
    ERASE = "admin:erase"


_REVIEWER = frozenset(
    {
        Permission.READ,
        Permission.READ_PROMPTS,
        Permission.READ_AUDIT,
        Permission.QUARANTINE,
        Permission.ACK_BREACHES,
        Permission.REVIEW_CHANGES,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.REVIEWER: _REVIEWER,
    Role.INGESTER: frozenset({Permission.INGEST}),
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.EXECUTOR: frozenset({Permission.INGEST, Permission.EXECUTE}),
}


def parse_role(value: str) -> Role:
    """A role from its name, with a clear error naming the valid ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r}; valid roles are {valid}") from None
