// The issuing transaction's write, in one statement (one round trip): the new commands,
// each linked to the run or step run it acts on (TARGETS) and to its pipeline (FOR), each
// with its audit entry (linked ON it: the command is the entry's target, so
// audit_record's lookup of a target by kind is not needed), then their seqs.
// Rows come in target order (the links lock their pipeline / run nodes, and transactions
// locking them in one order never wait on each other crosswise); `row.order` is the
// request order, the order of the seqs.
// The counter is touched once, after every command is made (the collect ends the
// creating part first): its write lock is held from there to commit, so every issuer on
// every replica commits in seq order (a tailer that read up to seq n never misses a
// command below it later), and the locked span is the end of this statement and the
// commit only. A second statement on the counter makes concurrent issuers deadlock
// (measured on 5.26). No row: the counter does not exist yet (command_seq_init creates
// it; the caller rolls back and retries).
// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.rows AS row
CREATE (c:Command)
SET c = row.props,
    c.created_at = datetime(row.created_at),
    c.expires_at = datetime(row.expires_at)
WITH c, row
OPTIONAL MATCH (p:Pipeline {name: row.props.pipeline})
OPTIONAL MATCH (r:Run {id: row.props.run})
OPTIONAL MATCH (sr:StepRun {id: row.props.step_run})
FOREACH (_ IN CASE WHEN p IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:FOR]->(p))
FOREACH (_ IN CASE WHEN sr IS NOT NULL THEN [1] ELSE [] END | CREATE (c)-[:TARGETS]->(sr))
FOREACH (_ IN CASE WHEN sr IS NULL AND r IS NOT NULL THEN [1] ELSE [] END |
  CREATE (c)-[:TARGETS]->(r))
WITH c, row, row.audit AS e
MERGE (a:AuditEntry {id: e.id})
ON CREATE SET a.actor = e.actor, a.action = e.action, a.target = e.target,
              a.before = e.before, a.after = e.after, a.at = datetime(e.at),
              a.order_key = e.order_key
MERGE (a)-[:ON]->(c)
WITH c, row.order AS order
ORDER BY order
WITH collect(c) AS commands
MATCH (counter:Sequence {name: 'command'})
SET counter.value = counter.value + size(commands)
WITH counter.value - size(commands) AS base, commands
UNWIND range(0, size(commands) - 1) AS i
WITH commands[i] AS c, base + i + 1 AS seq
SET c.seq = seq
RETURN c {.*} AS command
ORDER BY c.seq
