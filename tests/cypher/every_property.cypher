// Every property of every node and relationship, with where it sits (canary scans).
MATCH (n)
RETURN labels(n) AS labels, properties(n) AS props
UNION ALL
MATCH ()-[r]->()
RETURN [type(r)] AS labels, properties(r) AS props
