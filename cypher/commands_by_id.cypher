// Lists come in one map parameter ($batch): Neo4j caches a plan per size range of a list
// parameter, and issuing groups whatever requests wait (tests/integration/
// test_command_planning.py).
UNWIND $batch.ids AS id
MATCH (c:Command {id: id})
RETURN c {.*} AS command
