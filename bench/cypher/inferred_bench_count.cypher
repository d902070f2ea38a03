// bench/inferred_lineage.py: the inferred-lineage edges stored.
MATCH ()-[e:INFERRED_FLOW]->() RETURN count(e) AS n
