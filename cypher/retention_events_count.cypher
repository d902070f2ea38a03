// Retention dry run: how many events of the given types a pass would archive.
MATCH (e:Event)
WHERE e.received_at < datetime($cutoff) AND e.type IN $types AND NOT e:Underived
RETURN count(e) AS count
