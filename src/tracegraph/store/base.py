"""The one way a store reaches Neo4j: named statements under the query timeout.

Every store (``GraphReads``, ``KeyStore``, ``SlaStore`` …) is a :class:`Store` bound to
the driver, the database and ``TRACEGRAPH_QUERY_TIMEOUT_S``:

- :meth:`Store.read` runs one ``cypher/<name>.cypher`` statement as an auto-commit read
  (one round trip: RUN and PULL pipelined, no BEGIN/COMMIT exchanges);
- :meth:`Store.write` runs one statement in a managed write transaction (retried by the
  driver on transient errors such as deadlocks);
- :meth:`Store.transaction` runs a function of several statements in one managed write
  transaction (a change and its audit entry, both or neither).

All three carry the query timeout to the server, which ends the transaction there (its
locks freed) when it runs or waits too long; reads also run under a client deadline a
little past it (``store.errors.within``), for a frozen server that never answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from neo4j import (
    READ_ACCESS,
    WRITE_ACCESS,
    AsyncDriver,
    AsyncManagedTransaction,
    Record,
    unit_of_work,
)

from tracegraph.store.cypher_files import cypher, query
from tracegraph.store.errors import within

# A read the server has not answered this long after its own timeout would have
# cancelled it is stuck on a frozen or partitioned server (store.errors).
DEADLINE_GRACE_S = 2.0

P = ParamSpec("P")
T = TypeVar("T")


class Store:
    """A store's connection to the graph: driver, database and query timeout."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        timeout_s: float = 10.0,
        answer_timeout_s: float | None = None,
    ) -> None:
        self.driver = driver
        self.database = database
        self.timeout_s = timeout_s
        # How long a caller waits for a read's answer: a little past the server's own
        # timeout, or less where a request waits on it (key lookups, replay pages).
        self.answer_timeout_s = (
            timeout_s + DEADLINE_GRACE_S if answer_timeout_s is None else answer_timeout_s
        )

    async def read(self, statement: str, /, **params: Any) -> list[Record]:
        """The records of a read statement (``cypher/<statement>.cypher``)."""
        return await within(self.answer_timeout_s, self._read(statement, params), "the read")

    async def read_on_leader(
        self, statement: str, /, *, answer_timeout_s: float | None = None, **params: Any
    ) -> list[Record]:
        """A read routed to the cluster's leader (``neo4j://``; the same server on a
        single one): for reads that must see every commit so far, such as the live
        tailer's (a follower that lags would look like a wiped log). ``answer_timeout_s``
        replaces the store's answer timeout for this read."""
        seconds = self.answer_timeout_s if answer_timeout_s is None else answer_timeout_s
        return await within(seconds, self._read(statement, params, WRITE_ACCESS), "the read")

    async def _read(
        self, statement: str, params: dict[str, Any], access: str = READ_ACCESS
    ) -> list[Record]:
        async with self.driver.session(
            database=self.database,
            default_access_mode=access,
            # Causal chaining across this process's statements (docs/deployment.md): a
            # read routed to a follower waits until it has what this process saw, the
            # live tailer's leader reads included (read-your-writes across replicas).
            bookmark_manager=self.driver.execute_query_bookmark_manager,
        ) as session:
            result = await session.run(query(statement, self.timeout_s), params)
            return [record async for record in result]

    async def write(self, statement: str, /, **params: Any) -> list[Record]:
        """The records of a write statement, run in a write transaction of its own."""

        async def work(tx: AsyncManagedTransaction) -> list[Record]:
            result = await tx.run(cypher(statement), params)
            return [record async for record in result]

        return await self.transaction(work)

    async def transaction(
        self,
        work: Callable[Concatenate[AsyncManagedTransaction, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``work(tx, *args, **kwargs)`` in one write transaction under the query timeout
        (re-run by the driver on transient errors: compute from what it reads)."""
        timed = unit_of_work(timeout=self.timeout_s)(work)
        async with self.driver.session(
            database=self.database, bookmark_manager=self.driver.execute_query_bookmark_manager
        ) as session:
            return await session.execute_write(timed, *args, **kwargs)
