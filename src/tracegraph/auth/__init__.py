"""Who is calling and what they may do: principals, roles, API keys and JWTs.

Pure domain code (no FastAPI, no Neo4j): the API layer authenticates requests with
:class:`~tracegraph.auth.authenticator.Authenticator` and checks :class:`Permission`\\ s.
"""

from tracegraph.auth.principal import SYSTEM, Principal
from tracegraph.auth.roles import ROLE_PERMISSIONS, Permission, Role

__all__ = ["ROLE_PERMISSIONS", "SYSTEM", "Permission", "Principal", "Role"]
