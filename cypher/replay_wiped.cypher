// The derived graph is gone: from now on the replay applies the log in seq order.
MATCH (s:ReplayState {id: 'replay'})
SET s.phase = 'applying', s.applied_seq = 0
