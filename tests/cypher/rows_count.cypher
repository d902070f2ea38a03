// How many rows $rows held.
UNWIND $rows AS row
RETURN count(row) AS n
