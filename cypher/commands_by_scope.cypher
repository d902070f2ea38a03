// Commands already issued under these idempotency scopes (`<principal>|<key>`).
UNWIND $scopes AS scope
MATCH (c:Command {scope: scope})
RETURN c {.*} AS command
