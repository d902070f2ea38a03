// The seqs of events logged first after an outage and not derived yet.
MATCH (e:Underived)
RETURN e.seq AS seq
ORDER BY seq
