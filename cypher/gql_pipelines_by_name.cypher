UNWIND $names AS name
MATCH (p:Pipeline {name: name})
RETURN name, p { .name, .version, .card_version } AS p
