// The replay finished: nothing to resume.
MATCH (s:ReplayState {id: 'replay'})
DELETE s
