// Breach nodes, distinct breach ids, and their OF/ON relationships (no duplicates check).
MATCH (b:SLABreach)
OPTIONAL MATCH (b)-[r:ON|OF]->()
RETURN count(DISTINCT b) AS n, count(DISTINCT b.id) AS ids, count(r) AS rels
