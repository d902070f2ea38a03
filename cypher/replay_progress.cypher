// In the same transaction as the page it applied: after a crash the replay resumes
// after exactly the events whose effects are committed.
MATCH (s:ReplayState {id: 'replay'})
SET s.applied_seq = $seq
