"""Bearer JWTs for people: HS256 with a shared secret, RS256 from a JWKS or OIDC issuer.

Each algorithm is accepted only when its key source is configured, so a token can never
choose its own verification (no ``alg`` confusion, no ``none``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from tracegraph.auth.errors import AuthenticationError, CredentialExpired
from tracegraph.auth.principal import Principal
from tracegraph.auth.roles import Role

# Small clock skew between the issuer and this service (JwtConfig.leeway_s).
_LEEWAY_S = 30.0


@dataclass
class JwtConfig:
    hs256_secret: str | None = None
    jwks_url: str | None = None
    oidc_issuer: str | None = None
    issuer: str | None = None
    audience: str | None = None
    roles_claim: str = "roles"
    subject_claims: list[str] = field(default_factory=lambda: ["email", "sub"])
    leeway_s: float = _LEEWAY_S

    @property
    def enabled(self) -> bool:
        return bool(self.hs256_secret or self.jwks_url or self.oidc_issuer)


class JwtVerifier:
    def __init__(self, config: JwtConfig) -> None:
        self._config = config
        self._jwks: jwt.PyJWKClient | None = (
            jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300)
            if config.jwks_url
            else None
        )
        self._issuer = config.issuer or config.oidc_issuer

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"not a valid API key or JWT: {exc}") from None
        alg = header.get("alg")
        if alg == "HS256" and self._config.hs256_secret:
            key: Any = self._config.hs256_secret
        elif alg == "RS256" and (self._config.jwks_url or self._config.oidc_issuer):
            key = await asyncio.to_thread(self._signing_key, token)
        else:
            raise AuthenticationError(f"JWTs signed with {alg!r} are not accepted here")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._config.audience,
                issuer=self._issuer,
                leeway=self._config.leeway_s,
                options={"require": ["exp"], "verify_aud": self._config.audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise CredentialExpired(f"JWT refused: {exc}") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"JWT refused: {exc}") from None
        return self._principal(claims)

    def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self._discover_jwks_url(), cache_keys=True, lifespan=300)
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"JWT signing key not found: {exc}") from None

    def _discover_jwks_url(self) -> str:
        issuer = (self._config.oidc_issuer or "").rstrip("/")
        try:
            response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
            response.raise_for_status()
            return str(response.json()["jwks_uri"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise AuthenticationError(f"OIDC discovery at {issuer} failed: {exc}") from None

    def _principal(self, claims: dict[str, Any]) -> Principal:
        raw = claims.get(self._config.roles_claim)
        names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        roles = frozenset(
            Role(n) for n in names if isinstance(n, str) and n in Role._value2member_map_
        )
        if not roles:
            raise AuthenticationError(
                f"the JWT carries no Tracegraph role in claim {self._config.roles_claim!r} "
                f"(expected one or more of {', '.join(r.value for r in Role)})"
            )
        subject = next((str(claims[c]) for c in self._config.subject_claims if claims.get(c)), None)
        if subject is None:
            raise AuthenticationError("the JWT names no subject (sub/email claim)")
        return Principal(
            actor=f"user:{subject}",
            roles=roles,
            kind="jwt",
            subject=subject,
            expires_at=float(claims["exp"]) + self._config.leeway_s,
        )
