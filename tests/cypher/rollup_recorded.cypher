// Every recorded rollup contribution (LLM calls, step runs, runs) by node id.
MATCH (n)
WHERE (n:LLMCall OR n:StepRun OR n:Run) AND n.rollup IS NOT NULL
RETURN n.id AS id, n.rollup AS rollup
ORDER BY id
