"""HTTP authentication and per-route permissions (FastAPI dependencies).

Credentials: ``Authorization: Bearer <API key or JWT>`` or ``X-API-Key: <key>``.
Missing or refused: 401 with ``WWW-Authenticate: Bearer``; authenticated without the
route's permission: 403. The principal is left on ``request.state.principal``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from tracegraph.api.json_response import json_response
from tracegraph.auth import Permission, Principal
from tracegraph.auth.errors import AuthenticationError, CredentialsUnavailable
from tracegraph.ingest.errors import DatabaseUnavailable
from tracegraph.runtime import Services


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    pass


def credential_of(headers: Mapping[str, str]) -> str | None:
    """The credential a request presents, if any."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    key = headers.get("x-api-key")
    return key.strip() if key else None


async def authenticate(conn: HTTPConnection, credential: str | None = None) -> Principal:
    """The caller of a request (or the credential given), or :class:`NotAuthenticated`."""
    services: Services = conn.app.state.services
    if credential is None:
        credential = credential_of(conn.headers)
    try:
        return await services.authenticator.authenticate(credential)
    except AuthenticationError as exc:
        raise NotAuthenticated(str(exc)) from None
    except CredentialsUnavailable as exc:
        # Not a refusal: the key could not be checked now (503 + Retry-After).
        raise DatabaseUnavailable(str(exc), services.settings.retry_after_s) from None


def forbidden_message(principal: Principal, permission: Permission) -> str:
    return (
        f"forbidden: {principal.actor} ({', '.join(principal.role_names)}) lacks the "
        f"'{permission.value}' permission"
    )


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the authenticated principal, which must hold ``permission``."""

    async def dependency(request: Request) -> Principal:
        principal = getattr(request.state, "principal", None) or await authenticate(request)
        request.state.principal = principal
        if not principal.can(permission):
            raise Forbidden(forbidden_message(principal, permission))
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


def principal_of(request: Request) -> Principal:
    """The principal a ``require`` dependency authenticated for this request."""
    return request.state.principal


def install_auth_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(_: Request, exc: NotAuthenticated) -> Response:
        return json_response(
            {"error": str(exc)},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="tracegraph"'},
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> Response:
        return json_response({"error": str(exc)}, status_code=403)
