// Approvals (issue 19) of a run and/or a pipeline, in given states (empty: any), newest
// request first.
MATCH (a:Approval)
WHERE ($run IS NULL OR a.run = $run)
  AND ($pipeline IS NULL OR a.pipeline = $pipeline)
  AND (size($states) = 0 OR a.state IN $states)
WITH a ORDER BY a.requested_at DESC, a.id
LIMIT $first
RETURN properties(a) AS approval
