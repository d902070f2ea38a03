"""Leases of background duties in Neo4j (issue 20): ``(:Lease {name})`` with holder,
expiry and a fencing token (``cypher/lease_*.cypher``)."""

from __future__ import annotations

from tracegraph.store.base import Store


class LeaseStore(Store):
    async def acquire(self, name: str, holder: str, token: int | None, ttl_s: float) -> int | None:
        """Take or renew the lease; its token when ``holder`` holds it now, else None."""
        records = await self.write(
            "lease_acquire", name=name, holder=holder, token=token, ttl_ms=int(ttl_s * 1000)
        )
        rec = records[0]
        return int(rec["token"]) if rec["held"] else None

    async def release(self, name: str, holder: str, token: int) -> None:
        await self.write("lease_release", name=name, holder=holder, token=token)
