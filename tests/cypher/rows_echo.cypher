// Every row of $rows back as it arrived (checks parameters survive the trip).
UNWIND $rows AS row
RETURN row.id AS id, row.tags AS tags, row.n AS n, row.x AS x
