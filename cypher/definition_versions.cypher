// Every pipeline.defined event of a pipeline (its versions, oldest first), with who
// proposed it (a gated one: the request's author; its event is the reviewer's) and the
// request that approved it.
// Seeks the (type, pipeline) index: bounded by the pipeline's definitions, not its events.
MATCH (e:Event {type: 'pipeline.defined', pipeline: $pipeline})
OPTIONAL MATCH (c:ChangeRequest {pipeline: $pipeline, applied_seq: e.seq})
RETURN e.seq AS seq, e.time AS time, coalesce(c.author, e.principal) AS author,
       e.payload AS payload,
       c.id AS change_request, c.reviewer AS approved_by
ORDER BY e.seq
