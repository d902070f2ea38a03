// Runs newest first (by start, else schedule time, then id) after the cursor $after_key,
// optionally with one status. Walks the order_key index backwards, so a page costs the
// page, not the number of runs.
MATCH (r:Run)
WHERE r.order_key < $after_key
  AND ($status IS NULL OR r.status = $status)
RETURN properties(r) AS r, r.order_key AS k
ORDER BY r.order_key DESC
LIMIT $limit
