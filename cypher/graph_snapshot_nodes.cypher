// Every node as (labels, properties) for comparing whole graphs in tests and replay checks.
MATCH (n)
RETURN labels(n) AS labels, properties(n) AS props
