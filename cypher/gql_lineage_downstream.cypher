// Lineage downstream of an artifact version (or of every version of $uri when $version is
// null), breadth first: B is one level below A when some step run (or run) READ A and WROTE
// B. Bounded by $depth levels and about $max_nodes nodes; answered as ONE record: the
// levels of versions reached (level 0 = the roots) and the edges found.
// Also one level apart: an INFERRED_FLOW edge (inferred lineage inside a run, stored by
// apply_inferred_lineage; via = the run, path = the explaining steps), unless
// $observed_only. Edges carry kind 'OBSERVED' (via = the step run or run) or 'INFERRED'.
OPTIONAL MATCH (a:Artifact {uri: $uri})
OPTIONAL MATCH (av:ArtifactVersion {id: $uri + '@' + coalesce($version, '')})
WITH a, CASE
  WHEN $version IS NULL THEN [(a)<-[:VERSION_OF]-(v:ArtifactVersion) | v]
  WHEN av IS NULL THEN []
  ELSE [av] END AS roots
WITH a, roots,
  reduce(st = {seen: roots, frontier: roots, edges: [], levels: [roots]}, i IN range(1, $depth) |
    CASE WHEN size(st.frontier) = 0 OR size(st.seen) >= $max_nodes THEN st ELSE
    head([hits IN [reduce(h = [], f IN st.frontier |
        h + [(f)<-[:READ]-(via)-[:WROTE]->(m:ArtifactVersion)
               | {f: f, via: via.id, m: m, kind: 'OBSERVED', path: null}]
          + CASE WHEN $observed_only THEN [] ELSE
              [(f)-[e:INFERRED_FLOW]->(m:ArtifactVersion) | {f: f, via: e.run, m: m, kind: 'INFERRED', path: e.path}]
            END)] |
      head([nxt IN [reduce(acc = [], x IN hits |
          CASE WHEN x.m IN st.seen OR x.m IN acc THEN acc ELSE acc + x.m END)] |
        {seen: st.seen + nxt, frontier: nxt, levels: st.levels + [nxt],
         edges: st.edges + [x IN hits | {from: x.f.id, to: x.m.id, via: x.via,
                                         kind: x.kind, path: x.path}]}])])
    END) AS st
RETURN a { .uri, .kind } AS artifact,
       [lvl IN st.levels | [n IN lvl | n { .id, .uri, .version, .hash, .kind }]] AS levels,
       st.edges AS edges,
       any(f IN st.frontier WHERE EXISTS { (f)<-[:READ]-()-[:WROTE]->(:ArtifactVersion) }
         OR (NOT $observed_only AND EXISTS { (f)-[:INFERRED_FLOW]->(:ArtifactVersion) })) AS more
