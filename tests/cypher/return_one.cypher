// Any cheap statement: it only needs a connection of the pool.
RETURN 1 AS one
