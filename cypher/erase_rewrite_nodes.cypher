// Erasure: the rewritten properties (only those that changed) of one batch of nodes.
UNWIND $batch.rows AS row
MATCH (n) WHERE elementId(n) = row.element_id
SET n += row.props
RETURN count(*) AS rewritten
