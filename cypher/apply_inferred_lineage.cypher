// Inferred lineage inside a run (docs/lineage.md), materialised when the graph is
// derived so lineage and impact only follow stored edges. When step run B depends
// (through the step DAG, transitively: DEPENDS_TRANSITIVELY) on step run A of the same
// run, every version B WROTE derives from every version A READ or WROTE:
//   (x:ArtifactVersion)-[:INFERRED_FLOW {run, path}]->(y:ArtifactVersion)
// one per (x, y, run) however many attempts or step pairs explain it (retries count
// once); `path` is the shortest explaining step path, ties to the smaller keys, so it
// is the same whatever order the events came in.
// $touched is one map (an empty list plans apart from a full one: see apply_batch).
// $touched.step_runs: the step runs that read or wrote in this batch. Each is joined
// both ways (as B with the step runs upstream of it, as A with those downstream), so
// whichever side arrives last makes the edge. $touched.pipelines: the pipelines whose
// step paths just changed (apply_step_paths): their runs' inferred edges are dropped
// and rebuilt from scratch.
// Bounded by the run: partners are found through (Run)-[:HAS]->(StepRun), never through
// a step's step runs of every run.
CALL () {
  UNWIND $touched.pipelines AS name
  MATCH (:Pipeline {name: name})<-[:OF]-(r:Run)-[:HAS]->(:StepRun)-[:WROTE]->(:ArtifactVersion)
        <-[old:INFERRED_FLOW {run: r.id}]-(:ArtifactVersion)
  DELETE old
}
CALL () {
  UNWIND $touched.pipelines AS name
  MATCH (:Pipeline {name: name})<-[:OF]-(:Run)-[:HAS]->(sr:StepRun)
  WHERE EXISTS { (sr)-[:WROTE]->(:ArtifactVersion) }
  RETURN collect(sr.id) AS rebuilt
}
UNWIND $touched.step_runs + rebuilt AS id
WITH DISTINCT id
MATCH (sr:StepRun {id: id})-[:OF]->(s:Step)
MATCH (r:Run {id: sr.run})
CALL (r, sr, s) {
  // sr as the downstream side: what its upstream step runs read and wrote -> what sr wrote
  MATCH (r)-[:HAS]->(up:StepRun)-[:OF]->(u:Step)
  MATCH (s)-[d:DEPENDS_TRANSITIVELY]->(u)
  MATCH (up)-[:READ|WROTE]->(x:ArtifactVersion)
  MATCH (sr)-[:WROTE]->(y:ArtifactVersion)
  WHERE x <> y
  RETURN x, y, d.path AS path
  UNION
  // sr as the upstream side: what it read and wrote -> what its downstream step runs wrote
  MATCH (r)-[:HAS]->(down:StepRun)-[:OF]->(t:Step)
  MATCH (t)-[d:DEPENDS_TRANSITIVELY]->(s)
  MATCH (sr)-[:READ|WROTE]->(x:ArtifactVersion)
  MATCH (down)-[:WROTE]->(y:ArtifactVersion)
  WHERE x <> y
  RETURN x, y, d.path AS path
}
// One row per edge with its best path: shortest, then smallest keys in order (joined
// with ' ', which sorts below every character a step key may hold).
WITH r.id AS run, x, y, path, reduce(text = '', key IN path | text + key + ' ') AS path_text
ORDER BY size(path), path_text
WITH run, x, y, head(collect(path)) AS path
WITH run, x, y, path, reduce(text = '', key IN path | text + key + ' ') AS path_text
MERGE (x)-[e:INFERRED_FLOW {run: run}]->(y)
// An edge already stored keeps the better of its path and this one (a min, so any
// arrival order ends on the same path).
SET e.path = CASE
  WHEN e.path IS NULL OR size(path) < size(e.path)
    OR (size(path) = size(e.path) AND path_text < reduce(text = '', key IN e.path | text + key + ' '))
  THEN path ELSE e.path END
