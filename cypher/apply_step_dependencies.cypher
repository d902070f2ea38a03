// DAG edges of the definitions that won; written after every step node exists.
UNWIND $edges AS edge
MATCH (downstream:Step {id: edge.from}), (upstream:Step {id: edge.to})
MERGE (downstream)-[:DEPENDS_ON]->(upstream)
