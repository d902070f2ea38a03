"""API key text: ``tg_<id>_<secret>``, shown once and stored only as a hash.

The secret is 256 random bits, so a fast SHA-256 is the right hash (a slow password
hash buys nothing against a brute force of 2^256 and costs every request); the id lets
the service find the one stored hash to compare, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "tg_"
_KEY = re.compile(r"^tg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    id: str
    text: str  # the whole key, shown to its owner once
    hash: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> IssuedKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(id=key_id, text=f"{PREFIX}{key_id}_{secret}", hash=hash_secret(secret))


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


def split_api_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    match = _KEY.match(text)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
