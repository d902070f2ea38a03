// Impact (blast radius) of one node, answered as ONE record.
// 1. The root by $kind/$key. 2. Structural expansion (4 rounds): owner -> what it owns,
//    pipeline -> steps and runs, step -> step runs, run -> step runs, artifact -> versions,
//    prompt version / model -> LLM calls -> the step runs (or runs) that made them.
// 3. Data flow, breadth first, 2 * $depth half-steps: artifact version -> the step runs
//    (or runs) that READ it -> the versions they WROTE, and (unless $observed_only)
//    artifact version -> the versions inferred from it inside a run (INFERRED_FLOW, one
//    half-step); stops at about $max_nodes nodes.
// 4. Around what was reached: steps of the step runs and their DAG descendants (steps
//    that DEPEND_ON them, transitively), runs, pipelines, artifacts, owners and SLAs.
// Edges are [from elementId, to elementId, kind] in the direction of the explanation.
CALL () {
  MATCH (root:ArtifactVersion {id: $key}) WHERE $kind = 'ARTIFACT_VERSION' RETURN root
  UNION
  MATCH (root:Artifact {uri: $key}) WHERE $kind = 'ARTIFACT' RETURN root
  UNION
  MATCH (root:PromptVersion {id: $key}) WHERE $kind = 'PROMPT_VERSION' RETURN root
  UNION
  MATCH (root:Model {id: $key}) WHERE $kind = 'MODEL' RETURN root
  UNION
  MATCH (root:Step {id: $key}) WHERE $kind = 'STEP' RETURN root
  UNION
  MATCH (root:Pipeline {name: $key}) WHERE $kind = 'PIPELINE' RETURN root
  UNION
  MATCH (root:Run {id: $key}) WHERE $kind = 'RUN' RETURN root
  UNION
  MATCH (root:Owner {id: $key}) WHERE $kind = 'OWNER' RETURN root
}
WITH root,
  reduce(st = {seen: [root], frontier: [root], edges: []}, i IN range(1, 4) |
    CASE WHEN size(st.frontier) = 0 OR size(st.seen) >= $max_nodes THEN st ELSE
    head([hits IN [reduce(h = [], f IN st.frontier | h
        + [(f)<-[:OWNED_BY]-(m) WHERE f:Owner AND (m:Pipeline OR m:Step OR m:Artifact)
             | {a: f, b: m, k: 'OWNS'}]
        + [(f)-[:HAS_STEP]->(m:Step) WHERE f:Pipeline | {a: f, b: m, k: 'HAS_STEP'}]
        + [(f)<-[:OF]-(m:Run) WHERE f:Pipeline | {a: f, b: m, k: 'HAS_RUN'}]
        + [(f)<-[:OF]-(m:StepRun) WHERE f:Step | {a: f, b: m, k: 'RAN_AS'}]
        + [(f)-[:HAS]->(m:StepRun) WHERE f:Run | {a: f, b: m, k: 'HAS'}]
        + [(f)<-[:VERSION_OF]-(m:ArtifactVersion) WHERE f:Artifact | {a: f, b: m, k: 'HAS_VERSION'}]
        + [(f)<-[:USED_PROMPT|USED_MODEL]-(m:LLMCall) WHERE f:PromptVersion OR f:Model
             | {a: f, b: m, k: 'USED_BY'}]
        + [(f)<-[:MADE]-(m) WHERE f:LLMCall | {a: f, b: m, k: 'MADE_BY'}])] |
      head([nxt IN [reduce(acc = [], x IN hits |
          CASE WHEN x.b IN st.seen OR x.b IN acc THEN acc ELSE acc + x.b END)] |
        {seen: st.seen + nxt, frontier: nxt, edges: st.edges + hits}])])
    END) AS s1
WITH root, s1,
  reduce(st = {seen: s1.seen, frontier: s1.seen, edges: []}, i IN range(1, 2 * $depth) |
    CASE WHEN size(st.frontier) = 0 OR size(st.seen) >= $max_nodes THEN st ELSE
    head([hits IN [reduce(h = [], f IN st.frontier | h
        + [(f)<-[:READ]-(m) WHERE f:ArtifactVersion | {a: f, b: m, k: 'READ_BY'}]
        + [(f)-[:WROTE]->(m:ArtifactVersion) WHERE f:StepRun OR f:Run | {a: f, b: m, k: 'WROTE'}]
        + [(f)-[e:INFERRED_FLOW]->(m:ArtifactVersion) WHERE f:ArtifactVersion AND NOT $observed_only
             | {a: f, b: m, k: 'INFERRED', run: e.run, path: e.path}])] |
      head([nxt IN [reduce(acc = [], x IN hits |
          CASE WHEN x.b IN st.seen OR x.b IN acc THEN acc ELSE acc + x.b END)] |
        {seen: st.seen + nxt, frontier: nxt, edges: st.edges + hits}])])
    END) AS s2
WITH root, s1.edges + s2.edges AS flow, s2,
     [n IN s2.seen WHERE n:StepRun] AS srs,
     [n IN s2.seen WHERE n:ArtifactVersion] AS avs,
     [n IN s2.seen WHERE n:Step] AS steps0,
     [n IN s2.seen WHERE n:Run] AS runs0,
     [n IN s2.seen WHERE n:Pipeline] AS pipes0,
     [n IN s2.seen WHERE n:Artifact] AS arts0
CALL (srs) {
  UNWIND srs AS sr
  MATCH (sr)-[:OF]->(s:Step)
  RETURN collect({a: sr, b: s, k: 'OF'}) AS sr_step
}
CALL (srs) {
  UNWIND srs AS sr
  MATCH (r:Run)-[:HAS]->(sr)
  RETURN collect({a: sr, b: r, k: 'IN_RUN'}) AS sr_run
}
CALL (avs) {
  UNWIND avs AS av
  MATCH (av)-[:VERSION_OF]->(a:Artifact)
  RETURN collect({a: av, b: a, k: 'VERSION_OF'}) AS av_art
}
CALL (steps0, sr_step) {
  UNWIND steps0 + [e IN sr_step | e.b] AS s
  WITH DISTINCT s
  OPTIONAL MATCH (s)<-[:DEPENDS_ON*1..20]-(d:Step)
  WITH collect(s) + collect(d) AS all
  UNWIND all AS s
  RETURN collect(DISTINCT s) AS steps
}
CALL (runs0, sr_run) {
  UNWIND runs0 + [e IN sr_run | e.b] AS r
  RETURN collect(DISTINCT r) AS runs
}
CALL (arts0, av_art) {
  UNWIND arts0 + [e IN av_art | e.b] AS a
  RETURN collect(DISTINCT a) AS arts
}
CALL (steps) {
  UNWIND steps AS s
  MATCH (s)-[:DEPENDS_ON]->(u:Step)
  RETURN collect({a: u, b: s, k: 'UPSTREAM_OF'}) AS dag
}
CALL (steps) {
  UNWIND steps AS s
  MATCH (p:Pipeline)-[:HAS_STEP]->(s)
  RETURN collect({a: s, b: p, k: 'IN_PIPELINE'}) AS step_pipe
}
CALL (runs) {
  UNWIND runs AS r
  MATCH (r)-[:OF]->(p:Pipeline)
  RETURN collect({a: r, b: p, k: 'OF'}) AS run_pipe
}
CALL (pipes0, step_pipe, run_pipe) {
  UNWIND pipes0 + [e IN step_pipe | e.b] + [e IN run_pipe | e.b] AS p
  RETURN collect(DISTINCT p) AS pipes
}
CALL (pipes, steps, arts) {
  UNWIND pipes + steps + arts AS x
  MATCH (x)-[:OWNED_BY]->(o:Owner)
  RETURN collect({a: x, b: o, k: 'OWNED_BY'}) AS owned, collect(DISTINCT o) AS owners
}
CALL (pipes, steps) {
  UNWIND pipes + steps AS x
  MATCH (x)-[:GOVERNED_BY]->(s:SLA)
  RETURN collect({a: x, b: s, k: 'GOVERNED_BY'}) AS governed, collect(DISTINCT s) AS slas
}
RETURN
  root {.*, eid: elementId(root), labels: labels(root)} AS root,
  [e IN flow + sr_step + sr_run + av_art + dag + step_pipe + run_pipe + owned + governed |
    [elementId(e.a), elementId(e.b), e.k]] AS edges,
  // The data-flow derivations followed: observed ones are READ_BY + WROTE pairs above.
  [e IN s2.edges WHERE e.k = 'INFERRED' | {from: e.a.id, to: e.b.id, run: e.run, path: e.path}]
    AS inferred,
  [n IN s2.seen | CASE WHEN n:LLMCall THEN {id: n.id, eid: elementId(n), labels: labels(n)}
                  ELSE n {.*, eid: elementId(n), labels: labels(n)} END] AS flow_nodes,
  [n IN steps | n {.id, .key, .name, .kind, .pipeline, eid: elementId(n), labels: labels(n)}] AS steps,
  [n IN runs | n {.*, eid: elementId(n), labels: labels(n)}] AS runs,
  [n IN pipes | n {.name, .version, .card_version, eid: elementId(n), labels: labels(n)}] AS pipelines,
  [n IN arts | n {.uri, .kind, eid: elementId(n), labels: labels(n)}] AS artifacts,
  [o IN owners | o {.*, eid: elementId(o), labels: labels(o)}] AS owners,
  [s IN slas | s {.*, eid: elementId(s), labels: labels(s)}] AS slas,
  size(s2.seen) >= $max_nodes
    OR any(f IN s2.frontier WHERE EXISTS { (f)<-[:READ]-() } OR EXISTS { (f)-[:WROTE]->() }
           OR (NOT $observed_only AND EXISTS { (f)-[:INFERRED_FLOW]->() }))
    AS more
