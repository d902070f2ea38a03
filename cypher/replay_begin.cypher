// Start (or resume) a replay: one ReplayState node says how far it got. A replay that
// was killed left it behind; its phase says whether the wipe finished ('applying', then
// every event up to applied_seq is applied) or must be run again ('wiping').
MERGE (s:ReplayState {id: 'replay'})
  ON CREATE SET s.phase = 'wiping', s.applied_seq = 0,
                s.started_at = datetime({epochMillis: $now_ms})
RETURN s.phase AS phase, s.applied_seq AS applied_seq
