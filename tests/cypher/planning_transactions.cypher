// The open transactions of the service's planning (EventWriter.PLANNING_METADATA).
SHOW TRANSACTIONS YIELD transactionId, metaData
WHERE metaData.tracegraph = 'planning'
RETURN transactionId
