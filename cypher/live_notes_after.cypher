// The LiveNotes after a replica's cursor, in seq order (live/hub.py tailer).
MATCH (n:LiveNote)
WHERE n.seq > $after
RETURN n.seq AS seq, n.origin AS origin, n.breaches AS breaches, n.alerts AS alerts
ORDER BY n.seq
LIMIT $limit
