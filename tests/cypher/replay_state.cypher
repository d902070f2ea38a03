// The replay's progress marker, if a replay is unfinished.
MATCH (s:ReplayState)
RETURN s.phase AS phase, s.applied_seq AS applied_seq
