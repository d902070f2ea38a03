// Every stored API key with all its properties (tests check what is and is not kept).
MATCH (k:ApiKey)
RETURN k.id AS id, k.name AS name, k.role AS role, properties(k) AS p
ORDER BY k.name
