// A pipeline's definition as stored (the winning pipeline.defined data, as JSON text) and
// the payloads of every pipeline.defined event of it in the log, for the versions used
// (a submitted version must be new). Starts from the (pipeline, time) index of events.
OPTIONAL MATCH (p:Pipeline {name: $pipeline})
CALL () {
  MATCH (e:Event)
  WHERE e.pipeline = $pipeline AND e.time IS NOT NULL AND e.type = 'pipeline.defined'
  RETURN collect(e.payload) AS payloads
}
RETURN p IS NOT NULL AS known, p.definition AS definition, p.defined_seq AS seq,
       p.defined_at AS defined_at, payloads
