"""Per-field authorization: strawberry permission classes built from :class:`Permission`.

Use ``permission_classes=[allow(Permission.X)]`` on a field to deny with an error, or
``extensions=[hidden_unless(Permission.X)]`` on a nullable field to answer ``null`` to
callers without the permission (prompt and response text for viewers).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from tracegraph.api.graphql.errors import FORBIDDEN
from tracegraph.auth import Permission, Principal


def principal_of(info: Info) -> Principal | None:
    return getattr(info.context, "principal", None)


def can(info: Info, permission: Permission) -> bool:
    principal = principal_of(info)
    return principal is not None and principal.can(permission)


@functools.cache
def allow(permission: Permission) -> type[BasePermission]:
    """A permission class that lets through principals holding ``permission``."""

    class Allowed(BasePermission):
        required: ClassVar[Permission] = permission
        message = f"forbidden: this needs the '{permission.value}' permission"

        def __init__(self) -> None:
            super().__init__()
            self.error_extensions = {"code": FORBIDDEN, "permission": permission.value}

        def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
            return can(info, permission)

    Allowed.__name__ = Allowed.__qualname__ = f"Allow_{permission.name}"
    return Allowed


def hidden_unless(permission: Permission) -> PermissionExtension:
    """Field extension: ``null`` (no error) for callers without ``permission``."""
    # No schema directive: each permission class would declare its own `@allowed`, and two
    # of them in one schema is an error.
    return PermissionExtension(
        permissions=[allow(permission)()], fail_silently=True, use_directives=False
    )
