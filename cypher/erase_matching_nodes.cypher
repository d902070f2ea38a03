// Erasure (docs/retention.md): nodes with a property other than a key that mentions the
// subject (case-insensitive), as a string or in a list of strings. A whole scan: erasure
// is rare and a subject can be anywhere. The caller rewrites them and asks again.
MATCH (n)
WHERE any(k IN keys(n) WHERE NOT k IN $keys AND (
        (n[k] IS :: STRING AND toLower(n[k]) CONTAINS $needle)
        OR (n[k] IS :: LIST<STRING NOT NULL> AND any(x IN n[k] WHERE toLower(x) CONTAINS $needle))))
RETURN elementId(n) AS element_id, labels(n) AS labels, properties(n) AS props
LIMIT $limit
