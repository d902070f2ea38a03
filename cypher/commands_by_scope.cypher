// Commands already issued under these idempotency scopes (`["<principal>", "<key>"]`, a JSON pair:
// command_store.idempotency_scope).
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.scopes AS scope
MATCH (c:Command {scope: scope})
RETURN c {.*} AS command
