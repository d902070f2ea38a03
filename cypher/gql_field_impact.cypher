// Impact of one field ($field of the artifact $key, every version having it, when $kind
// is ARTIFACT; of the version $key when ARTIFACT_VERSION), answered as ONE record in
// gql_impact's shape plus `fields`: the fields derived from it, transitively (column
// lineage, breadth first, $depth levels, about $max_nodes fields), the versions holding
// them, the step runs (or runs) that wrote those, their steps, runs and pipelines, the
// artifacts, and the owners of the pipelines, steps and artifacts. What removing or
// retyping the field breaks (docs/columns.md). Root null when $key is unknown.
CALL () {
  MATCH (root:ArtifactVersion {id: $key}) WHERE $kind = 'ARTIFACT_VERSION' RETURN root
  UNION
  MATCH (root:Artifact {uri: $key}) WHERE $kind = 'ARTIFACT' RETURN root
}
WITH root,
  CASE WHEN root:Artifact
    THEN COLLECT { MATCH (root)<-[:VERSION_OF]-(v:ArtifactVersion)<-[:FIELD_OF]-(f:Field)
                   WHERE f.name = $field RETURN {a: v, b: f} }
    ELSE COLLECT { MATCH (f:Field {id: $key + '#' + $field}) RETURN {a: root, b: f} }
  END AS starts
WITH root, starts, [s IN starts | s.b] AS start_fields,
  [s IN starts WHERE root:Artifact | {a: root, b: s.a, k: 'HAS_VERSION'}]
  + [s IN starts | {a: s.a, b: s.b, k: 'HAS_FIELD'}] AS root_edges
WITH root, starts, root_edges, start_fields,
  reduce(st = {seen: start_fields, frontier: start_fields, edges: []}, i IN range(1, $depth) |
    CASE WHEN size(st.frontier) = 0 OR size(st.seen) >= $max_nodes THEN st ELSE
    head([hits IN [reduce(h = [], f IN st.frontier |
        h + [(f)<-[:DERIVED_FROM]-(m:Field) | {a: f, b: m, k: 'READ_BY'}])] |
      head([nxt IN [reduce(acc = [], x IN hits |
          CASE WHEN x.b IN st.seen OR x.b IN acc THEN acc ELSE acc + x.b END)] |
        {seen: st.seen + nxt, frontier: nxt, edges: st.edges + hits}])])
    END) AS st
WITH root, starts, root_edges, st, [f IN st.seen WHERE NOT f IN start_fields] AS fields
CALL (fields) {
  UNWIND fields AS f
  MATCH (f)-[:FIELD_OF]->(v:ArtifactVersion)
  RETURN collect({a: f, b: v, k: 'FIELD_OF'}) AS field_av, collect(DISTINCT v) AS avs
}
CALL (avs) {
  UNWIND avs AS v
  MATCH (v)<-[:WROTE]-(w)
  RETURN collect({a: v, b: w, k: 'WRITTEN_BY'}) AS av_writer, collect(DISTINCT w) AS writers
}
CALL (avs) {
  UNWIND avs AS v
  MATCH (v)-[:VERSION_OF]->(a:Artifact)
  RETURN collect({a: v, b: a, k: 'VERSION_OF'}) AS av_art, collect(DISTINCT a) AS arts
}
CALL (writers) {
  UNWIND writers AS w
  MATCH (w:StepRun)-[:OF]->(s:Step)
  RETURN collect({a: w, b: s, k: 'OF'}) AS sr_step, collect(DISTINCT s) AS steps
}
CALL (writers) {
  UNWIND writers AS w
  MATCH (r:Run)-[:HAS]->(w:StepRun)
  RETURN collect({a: w, b: r, k: 'IN_RUN'}) AS sr_run, collect(DISTINCT r) AS runs0
}
CALL (writers, runs0) {
  UNWIND [w IN writers WHERE w:Run] + runs0 AS r
  RETURN collect(DISTINCT r) AS runs
}
CALL (runs) {
  UNWIND runs AS r
  MATCH (r)-[:OF]->(p:Pipeline)
  RETURN collect({a: r, b: p, k: 'OF'}) AS run_pipe, collect(DISTINCT p) AS pipes0
}
CALL (steps) {
  UNWIND steps AS s
  MATCH (p:Pipeline)-[:HAS_STEP]->(s)
  RETURN collect({a: s, b: p, k: 'IN_PIPELINE'}) AS step_pipe, collect(DISTINCT p) AS pipes1
}
CALL (pipes0, pipes1) {
  UNWIND pipes0 + pipes1 AS p
  RETURN collect(DISTINCT p) AS pipes
}
CALL (pipes, steps, arts) {
  UNWIND pipes + steps + arts AS x
  MATCH (x)-[:OWNED_BY]->(o:Owner)
  RETURN collect({a: x, b: o, k: 'OWNED_BY'}) AS owned, collect(DISTINCT o) AS owners
}
RETURN
  root {.*, eid: elementId(root), labels: labels(root)} AS root,
  [e IN root_edges + st.edges + field_av + av_writer + av_art + sr_step + sr_run + run_pipe
        + step_pipe + owned | [elementId(e.a), elementId(e.b), e.k]] AS edges,
  [n IN st.seen + avs | n {.id, .uri, .name, .type, .version_id, .version, .hash, .kind,
                           .first_seen, .size_bytes, .records, .schema,
                           eid: elementId(n), labels: labels(n)}]
    + [v IN [s IN starts | s.a] | v {.*, eid: elementId(v), labels: labels(v)}] AS flow_nodes,
  [n IN fields | n {.id, .uri, .name, .type, .version_id, eid: elementId(n),
                    labels: labels(n)}] AS fields,
  [n IN steps | n {.id, .key, .name, .kind, .pipeline, eid: elementId(n), labels: labels(n)}] AS steps,
  [n IN runs | n {.*, eid: elementId(n), labels: labels(n)}] AS runs,
  [n IN pipes | n {.name, .version, .card_version, eid: elementId(n), labels: labels(n)}] AS pipelines,
  [n IN arts | n {.uri, .kind, eid: elementId(n), labels: labels(n)}] AS artifacts,
  [o IN owners | o {.*, eid: elementId(o), labels: labels(o)}] AS owners,
  [] AS slas, size(starts) AS start_count,
  size(st.seen) >= $max_nodes
    OR any(f IN st.frontier WHERE EXISTS { (f)<-[:DERIVED_FROM]-(:Field) }) AS more
