// Text retention dry run: prompt/response events whose payload text would be archived.
MATCH (e:Event)
WHERE e.received_at < datetime($cutoff) AND e.type IN $types AND NOT e:Underived
  AND e.text_removed IS NULL
RETURN count(e) AS count
