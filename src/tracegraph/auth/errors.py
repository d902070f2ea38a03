"""Why a credential was refused (the message is safe to show the caller)."""

from __future__ import annotations


class AuthenticationError(Exception):
    """No usable credential: missing, malformed, unknown, revoked or expired."""


class CredentialExpired(AuthenticationError):
    """The credential was valid and has expired (a JWT past its ``exp``): sign in again."""


class CredentialsUnavailable(Exception):
    """The credential could not be checked now (the key store did not answer): not a
    refusal. HTTP answers 503 + Retry-After, WebSockets close with 1013."""
