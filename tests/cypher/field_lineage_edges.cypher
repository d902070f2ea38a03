// Column lineage edges with their properties (the graph snapshot compares endpoints only).
MATCH (f:Field)-[d:DERIVED_FROM]->(s:Field)
RETURN f.id AS field, s.id AS input, properties(d) AS props
ORDER BY field, input
