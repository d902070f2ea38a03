// Wait up to $timeout_s for every index to be online (a 10^7-node population takes
// minutes; the service's await_indexes gives up after 300 s).
CALL db.awaitIndexes($timeout_s)
