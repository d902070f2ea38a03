UNWIND $names AS name
MATCH (p:Pipeline {name: name})
RETURN name, p { .name, .version } AS p
