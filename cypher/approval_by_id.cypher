// One approval (issue 19) with what deciding on it needs: its pipeline's owner (an
// approver named "owner" matches it), and its step run's and run's status (a finished
// step waits for nothing).
MATCH (a:Approval {id: $id})
OPTIONAL MATCH (p:Pipeline {name: a.pipeline})
OPTIONAL MATCH (sr:StepRun {id: a.step_run})
RETURN properties(a) AS approval,
       head([(p)-[:OWNED_BY]->(o:Owner) | o.id]) AS owner,
       sr.status AS step_status
