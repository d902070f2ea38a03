// Commands already issued under these idempotency scopes (`["<principal>", "<key>"]`, a JSON pair:
// command_store.idempotency_scope).
UNWIND $scopes AS scope
MATCH (c:Command {scope: scope})
RETURN c {.*} AS command
