// Each breach with the labels of what it is linked to (OF the SLA, ON a run/step run/pipeline).
MATCH (b:SLABreach)
OPTIONAL MATCH (b)-[:OF]->(s:SLA)
OPTIONAL MATCH (b)-[:ON]->(x)
RETURN b.id AS id, b.kind AS kind, b.pipeline AS pipeline, s.id AS sla,
       collect(DISTINCT labels(x)[0]) AS on_labels,
       collect(DISTINCT coalesce(x.name, x.id)) AS on_ids
ORDER BY id
