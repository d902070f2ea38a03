// Pending approvals whose timeout passed (the expiry sweep, every replica; the decision
// event's shared id makes one of them win): oldest deadline first, a page at a time.
MATCH (a:Approval)
WHERE a.state = 'pending' AND a.deadline <= datetime($now)
WITH a ORDER BY a.deadline, a.id
LIMIT $limit
RETURN properties(a) AS approval
