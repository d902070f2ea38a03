// Pipelines by name, a page after the cursor name $after.
MATCH (p:Pipeline)
WHERE $after IS NULL OR p.name > $after
RETURN p { .name, .version, .card_version } AS p
ORDER BY p.name
LIMIT $limit
