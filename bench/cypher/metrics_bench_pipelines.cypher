// Metrics benchmark graph, part 1: $pipelines pipelines of $steps steps, each with an SLA.
UNWIND range(0, $pipelines - 1) AS p
CREATE (pl:Pipeline {name: 'mbench-' + p, version: '1'})
CREATE (sla:SLA {id: 'pipeline:mbench-' + p, max_duration_ms: 3600000})
CREATE (pl)-[:GOVERNED_BY]->(sla)
WITH p, pl
UNWIND range(0, $steps - 1) AS k
CREATE (st:Step {id: 'mbench-' + p + '/s' + k, key: 's' + k, pipeline: 'mbench-' + p})
CREATE (pl)-[:HAS_STEP]->(st)
