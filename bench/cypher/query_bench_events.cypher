// Benchmark event log, part 2: events with seqs $from..$to (one transaction per call),
// each ABOUT its run as the writer makes them. Every $every-th event from $target_from
// on belongs to the target run (a run still live at the end of a long log); the others
// cycle through $runs older runs.
UNWIND range($from, $to) AS seq
WITH seq, CASE WHEN seq >= $target_from AND seq % $every = 0 THEN $target
               ELSE 'bench-run-' + (seq % $runs) END AS run
MATCH (r:Run {id: run})
CREATE (e:Event {id: 'bench-ev-' + seq, seq: seq, type: 'log', source: 'bench',
                 pipeline: 'bench-events', run: run,
                 time: datetime('2026-01-01T00:00:00Z') + duration({milliseconds: seq}),
                 received_at: datetime('2026-01-01T00:00:00Z') + duration({milliseconds: seq}),
                 fingerprint: 'fp' + seq, principal: 'bench',
                 payload: '{"id":"bench-ev-' + seq + '","type":"log","time":"2026-01-01T00:00:00.000Z","source":"bench","pipeline":"bench-events","run":"' + run + '","data":{"level":"info","message":"line ' + seq + '"}}'})
CREATE (e)-[:ABOUT]->(r)
