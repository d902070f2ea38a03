// Claims the one-time admin bootstrap: `claimed` is true for exactly one caller ever
// (per database), even when several replicas start at once.
MERGE (b:AuthBootstrap {id: 'admin'})
  ON CREATE SET b.claimed_at = datetime($at), b.fresh = true
WITH b, b.fresh IS NOT NULL AS claimed
REMOVE b.fresh
RETURN claimed
