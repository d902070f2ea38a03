"""API keys in the graph (``:ApiKey``): create, list, revoke, verify, last-used time.

Only the SHA-256 of a key's secret is stored; the key text exists once, in the answer
to :meth:`KeyStore.create`. Creation and revocation are audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import READ_ACCESS, AsyncDriver, AsyncManagedTransaction
from neo4j.exceptions import ConstraintError

from tracegraph.audit import AuditRecord
from tracegraph.auth.api_keys import IssuedKey, new_api_key
from tracegraph.auth.authenticator import StoredKey
from tracegraph.auth.errors import CredentialsUnavailable
from tracegraph.auth.roles import ROLE_PERMISSIONS, Permission, Role
from tracegraph.auth.scopes import WriteScope, scope_of_stored
from tracegraph.events import format_timestamp
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher, query
from tracegraph.store.errors import is_retryable, within


class KeyNameTaken(ValueError):
    pass


class UnknownKey(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None
    revoked_by: str | None
    last_used_at: str | None
    # The pipeline patterns the key may write events for (None: any pipeline).
    scopes: list[str] | None = None

    @classmethod
    def of(cls, rec: Any) -> ApiKeyRecord:
        return cls(**{f: rec[f] for f in cls.__dataclass_fields__})

    def audit_view(self) -> dict[str, Any]:
        # What the audit trail keeps of a key: never its hash.
        view: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "revoked": bool(self.revoked_at),
        }
        if self.scopes is not None:
            view["scopes"] = self.scopes
        return view


def _now() -> str:
    return format_timestamp(datetime.now(UTC))


async def _create_in_tx(
    tx: AsyncManagedTransaction,
    issued: IssuedKey,
    name: str,
    role: Role,
    actor: str,
    scope: WriteScope | None = None,
) -> ApiKeyRecord:
    result = await tx.run(
        cypher("api_key_create"),
        id=issued.id,
        name=name,
        role=role.value,
        hash=issued.hash,
        at=_now(),
        actor=actor,
        scopes=None if scope is None else list(scope.patterns),
    )
    record = ApiKeyRecord.of(await result.single(strict=True))
    await record_in_tx(
        tx, [AuditRecord(actor, "key.created", f"api_key:{record.id}", None, record.audit_view())]
    )
    return record


class KeyStore(Store):
    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        timeout_s: float = 10.0,
        lookup_timeout_s: float = 3.0,
    ) -> None:
        super().__init__(driver, database, timeout_s)
        # Lookups sit on every request's path: a frozen database must not hang them.
        self._lookup_timeout_s = lookup_timeout_s

    async def create(
        self, name: str, role: Role, actor: str, scope: WriteScope | None = None
    ) -> tuple[ApiKeyRecord, str]:
        """A new key (``scope``: the pipelines it may write events for, None: any);
        returns its record and the key text (shown once, never stored)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ValueError("a key name must be 1-100 characters")
        if scope is not None and Permission.INGEST not in ROLE_PERMISSIONS[role]:
            raise ValueError(
                f"a write scope limits what a key may ingest; a {role.value} key ingests nothing"
            )
        issued = new_api_key()

        async def work(tx: AsyncManagedTransaction) -> ApiKeyRecord:
            return await _create_in_tx(tx, issued, name, role, actor, scope)

        try:
            record = await self.transaction(work)
        except ConstraintError:
            raise KeyNameTaken(f"an API key named {name!r} already exists") from None
        return record, issued.text

    async def revoke(self, key_id: str, actor: str) -> ApiKeyRecord:
        async def work(tx: AsyncManagedTransaction) -> ApiKeyRecord:
            result = await tx.run(cypher("api_key_revoke"), id=key_id, at=_now(), actor=actor)
            rec = await result.single()
            if rec is None:
                raise UnknownKey(f"no API key with id {key_id!r}")
            record = ApiKeyRecord.of(rec)
            if rec["changed"]:
                before = {**record.audit_view(), "revoked": False}
                await record_in_tx(
                    tx,
                    [
                        AuditRecord(
                            actor, "key.revoked", f"api_key:{key_id}", before, record.audit_view()
                        )
                    ],
                )
            return record

        return await self.transaction(work)

    async def list(self, include_revoked: bool = False) -> list[ApiKeyRecord]:
        records = await self.read("api_key_list", include_revoked=include_revoked)
        return [ApiKeyRecord.of(r) for r in records]

    async def get(self, key_id: str) -> StoredKey | None:
        """The stored key, or None; CredentialsUnavailable when the database cannot say."""
        lookup = self._read("api_key_by_id", {"id": key_id})
        try:
            records = await within(self._lookup_timeout_s, lookup, "the key lookup")
        except Exception as exc:
            if is_retryable(exc):
                raise CredentialsUnavailable(
                    "the graph database is unavailable, so the credential cannot be "
                    "checked now; nothing was stored; retry later"
                ) from exc
            raise
        if not records:
            return None
        r = records[0]
        return StoredKey(
            id=r["id"],
            name=r["name"],
            role=Role(r["role"]),
            hash=r["hash"],
            revoked=r["revoked"],
            write_scope=scope_of_stored(r["scopes"]),
        )

    async def plan_lookup(self, timeout_s: float | None = None) -> None:
        """Have the database plan the key lookup (of a key that does not exist): after a
        restart it plans cold, for longer than a request waits for its lookup, and
        under load for longer than the query timeout too (``timeout_s`` instead)."""
        async with self.driver.session(
            database=self.database, default_access_mode=READ_ACCESS
        ) as session:
            result = await session.run(
                query("api_key_by_id", timeout_s), {"id": "tracegraph-planning"}
            )
            await result.consume()

    async def revoked_among(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that no longer authenticate (revoked or gone)."""
        if not ids:
            return set()
        records = await self.read("api_key_revoked_among", ids=list(ids))
        return {r["id"] for r in records}

    async def touch(self, used: Sequence[tuple[str, datetime]]) -> None:
        rows = [{"id": key_id, "at": format_timestamp(at)} for key_id, at in used]
        await self.write("api_key_touch", rows=rows)

    async def bootstrap_admin(self) -> str | None:
        """On the very first start against a database: a generated admin key's text
        (to print once); None on every later start, even after that key is revoked."""

        issued = new_api_key()

        async def claim(tx: AsyncManagedTransaction) -> bool:
            result = await tx.run(cypher("auth_bootstrap"), at=_now())
            if not (await result.single(strict=True))["claimed"]:
                return False
            await _create_in_tx(tx, issued, "bootstrap-admin", Role.ADMIN, "system:bootstrap")
            return True

        claimed = await self.transaction(claim)
        return issued.text if claimed else None
