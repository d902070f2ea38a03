"""The authenticated caller of a request or WebSocket connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tracegraph.auth.roles import ROLE_PERMISSIONS, Permission, Role
from tracegraph.auth.scopes import WriteScope

PrincipalKind = Literal["api_key", "jwt", "system"]


@dataclass(frozen=True, slots=True)
class Principal:
    """``actor`` is what audit entries and the event log record: ``key:<name>`` for an
    API key, ``user:<subject>`` for a JWT, ``system:<what>`` for the service itself."""

    actor: str
    roles: frozenset[Role]
    kind: PrincipalKind
    # API key id or JWT subject: what rate limits and caches key on.
    subject: str = ""
    # When the credential stops being accepted (Unix time; a JWT's exp plus the clock-skew
    # leeway), None for keys: WebSocket sessions are closed at that moment.
    expires_at: float | None = None
    # The pipelines an API key may write events for (None: any; JWTs have none).
    write_scope: WriteScope | None = None
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        perms: set[Permission] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS[role]
        object.__setattr__(self, "permissions", frozenset(perms))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)


# The service acting on its own behalf (startup bootstrap, local CLI maintenance).
SYSTEM = Principal(actor="system:tracegraph", roles=frozenset({Role.ADMIN}), kind="system")
