// Retract breaches that later events disproved (a run found running too long by the
// clock finished within its SLA after all; a fire time flagged as missed was covered by
// a run whose events arrived late). Deleted, not resolved: the breaches that remain are
// the ones in-order delivery gives. Ids that do not exist are ignored; `ids` are the
// deleted ones (their breachChanged subscribers are told).
// Fenced like sla_merge_breaches.
OPTIONAL MATCH (lease:Lease {name: $fence.name})
SET lease.fenced_write_at = datetime()
WITH lease
WHERE $fence IS NULL OR (lease.holder = $fence.holder AND lease.token = $fence.token)
UNWIND $ids AS id
MATCH (b:SLABreach {id: id})
DETACH DELETE b
RETURN count(*) AS retracted, collect(id) AS ids
