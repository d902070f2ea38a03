// Tests, benchmarks and replay: delete everything in small transactions. Relationships
// go first, so a node with very many of them (a Model used by every call) never has to
// be detached in one transaction (DETACH still catches any written meanwhile).
MATCH ()-[r]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
WITH count(*) AS relationships
MATCH (n)
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
