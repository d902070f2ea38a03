// One pipeline's runs newest first after the cursor $after_key, optionally with one status
// (the (pipeline, order_key) index gives them in order).
MATCH (r:Run)
WHERE r.pipeline = $pipeline AND r.order_key < $after_key
  AND ($status IS NULL OR r.status = $status)
RETURN properties(r) AS r, r.order_key AS k
ORDER BY r.order_key DESC
LIMIT $limit
