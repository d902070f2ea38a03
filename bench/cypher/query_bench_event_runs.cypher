// Benchmark event log, part 1: the runs its events are about (ids bench-run-0..$runs-1,
// plus the one run the benchmark opens).
UNWIND range(0, $runs - 1) AS i
CREATE (:Run {id: 'bench-run-' + i, pipeline: 'bench-events', status: 'succeeded',
              order_key: '0000000000000|bench-run-' + i})
WITH count(*) AS created
CREATE (:Run {id: $target, pipeline: 'bench-events', status: 'running',
              order_key: '0000000000000|' + $target})
