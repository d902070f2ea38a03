// Column-level lineage downstream of a field ($field of the version $version of $uri, or of
// every version of $uri having it when $version is null), breadth first: B is one level below A when B DERIVED_FROM A
// (column lineage, docs/columns.md). Bounded by $depth levels and about $max_nodes
// fields; answered as ONE record like gql_lineage_downstream. Edges point the way data
// flowed and carry the transformation (type, subtype, description) and the step run.
OPTIONAL MATCH (a:Artifact {uri: $uri})
WITH a, CASE
  WHEN $version IS NULL THEN COLLECT {
    MATCH (a)<-[:VERSION_OF]-(:ArtifactVersion)<-[:FIELD_OF]-(f:Field) WHERE f.name = $field
    RETURN f ORDER BY f.id }
  ELSE COLLECT { MATCH (f:Field {id: $uri + '@' + $version + '#' + $field}) RETURN f }
  END AS roots
WITH a, roots,
  reduce(st = {seen: roots, frontier: roots, edges: [], levels: [roots]}, i IN range(1, $depth) |
    CASE WHEN size(st.frontier) = 0 OR size(st.seen) >= $max_nodes THEN st ELSE
    head([hits IN [reduce(h = [], f IN st.frontier |
        h + [(f)<-[d:DERIVED_FROM]-(m:Field) | {f: f, d: d, m: m}])] |
      head([nxt IN [reduce(acc = [], x IN hits |
          CASE WHEN x.m IN st.seen OR x.m IN acc THEN acc ELSE acc + x.m END)] |
        {seen: st.seen + nxt, frontier: nxt, levels: st.levels + [nxt],
         edges: st.edges + [x IN hits | {from: x.f.id, to: x.m.id, via: x.d.step_run, type: x.d.type, subtype: x.d.subtype, description: x.d.description}]}])])
    END) AS st
RETURN a { .uri, .kind } AS artifact,
       [lvl IN st.levels | [n IN lvl | n { .id, .uri, .name, .type, .version_id }]] AS levels,
       st.edges AS edges,
       any(f IN st.frontier WHERE EXISTS { (f)<-[:DERIVED_FROM]-(:Field) }) AS more
